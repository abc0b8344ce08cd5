"""A minimal hand-written Keras training script: what the pipeline's train stage is compared with.

`python -m bench.plain_keras <processed data dir> <epochs> <batch size> <model file>`: load the arrays,
build, compile, fit, save; prints one JSON line of seconds per part (imports included).
"""

import json
import sys
import time


def main() -> None:
    start = time.perf_counter()
    import keras
    import numpy as np

    imported = time.perf_counter()
    data_dir, epochs, batch_size, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    train, val = np.load(f"{data_dir}/train.npz"), np.load(f"{data_dir}/val.npz")
    x_train, y_train, x_val, y_val = train["x"], train["y"], val["x"], val["y"]
    loaded = time.perf_counter()
    keras.utils.set_random_seed(42)
    model = keras.Sequential(
        [
            keras.Input(x_train.shape[1:]),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(int(y_train.max()) + 1, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    built = time.perf_counter()
    model.fit(
        x_train, y_train, validation_data=(x_val, y_val), epochs=epochs, batch_size=batch_size, verbose=0
    )
    fitted = time.perf_counter()
    model.save(out)
    saved = time.perf_counter()
    print(json.dumps({
        "imports": imported - start, "load data": loaded - imported, "build, compile": built - loaded,
        "fit": fitted - built, "save model": saved - fitted, "in process": saved - start,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
