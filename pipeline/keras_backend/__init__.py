"""The Keras backend: model builders, device handling and the training loop (imports TensorFlow).

`train@` and `evaluate@` stages of Keras experiments depend on this folder; scikit-learn ones do not.
"""
