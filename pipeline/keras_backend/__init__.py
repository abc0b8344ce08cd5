"""The Keras backend: model builders, device handling and the training loop (imports TensorFlow).

`train@<experiment>` stages of Keras experiments depend on this folder; scikit-learn stages do not.
"""
