"""Tests of the Python module `cnn` on the suite's MNIST digits (scripts/test.sh prepares them in
build/data/mnist-digits). Run by ctest (tests/python.cmake) as /usr/bin/python3 -m pytest python/tests, with
PYTHONPATH at the build's python/ folder, CNN_TOOL the built `cnn` and CNN_DIGITS the digits' folder."""

import gzip
import os
import re
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

import cnn

DIGITS = os.environ.get("CNN_DIGITS", "")
TOOL = os.environ.get("CNN_TOOL", "")


def read_idx(name):
    path = os.path.join(DIGITS, name)
    opener = open
    if not os.path.exists(path):
        path, opener = path + ".gz", gzip.open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


@pytest.fixture(scope="module")
def digits():
    assert os.path.isdir(DIGITS), f"CNN_DIGITS={DIGITS!r}: no digits folder (scripts/test.sh prepares it)"
    return (read_idx("train-images-idx3-ubyte"), read_idx("train-labels-idx1-ubyte"),
            read_idx("t10k-images-idx3-ubyte"), read_idx("t10k-labels-idx1-ubyte"))


def tool(*args):
    assert os.access(TOOL, os.X_OK), f"CNN_TOOL={TOOL!r} is not the built cnn tool"
    return subprocess.run([TOOL, *args], check=True, capture_output=True, text=True).stdout


def test_fit_gives_the_model_file_of_cnn_train(digits, tmp_path):
    x, y, xt, yt = digits
    net = cnn.Network.preset("seed5")
    history = net.fit(x, y, epochs=1, batch=50, lr=0.1, seed=1, threads=0, validation=(xt, yt), source=DIGITS)
    net.save(str(tmp_path / "py.cnn"))
    tool("train", "--net", "seed5", "--data", DIGITS, "--epochs", "1", "--seed", "1", "--quiet",
         "--out", str(tmp_path / "cli.cnn"))
    assert (tmp_path / "py.cnn").read_bytes() == (tmp_path / "cli.cnn").read_bytes()
    assert [sorted(h) for h in history] == [sorted(["epoch", "train_loss", "test_loss", "test_accuracy", "seconds",
                                                     "images_per_second"])]
    assert history[0]["test_accuracy"] > 0.8


def test_the_command_predicts_what_python_predicts(digits, tmp_path):
    x, y, xt, yt = digits
    net = cnn.Network.preset("seed5")
    net.fit(x[:2000], y[:2000], epochs=1, seed=3)
    model = str(tmp_path / "m.cnn")
    net.save(model)
    metrics = net.evaluate(xt, yt)
    out = tool("eval", "--model", model, "--data", DIGITS)
    assert f"accuracy {100 * metrics['accuracy']:.2f}%" in out
    assert f"loss {metrics['loss']:.4f}" in out
    pictures = []
    for i in range(8):  # PGM: a picture format OpenCV reads, written without any imaging module
        path = tmp_path / f"d{i}.pgm"
        path.write_bytes(b"P5\n28 28\n255\n" + xt[i].tobytes())
        pictures.append(str(path))
    probs = net.predict(xt[:8])
    # --fit pad: the pictures are the arrays themselves (a 28x28 grey model's default, mnist, refits the ink)
    lines = tool("predict", "--model", model, "--invert", "no", "--fit", "pad", *pictures).splitlines()
    for i, line in enumerate(lines):
        top, percent = re.match(r".*: (\d+) ([\d.]+)%", line).groups()
        assert int(top) == int(np.argmax(probs[i]))
        assert abs(float(percent) - 100 * probs[i].max()) <= 0.051


def test_uint8_float32_and_strided_arrays_agree(digits):
    x, _, _, _ = digits
    net = cnn.Network.preset("seed5")
    a = net.predict(x[:100])
    b = net.predict(x[:100].astype(np.float32) * np.float32(1 / 255))  # the library's own scaling, exactly
    c = net.predict(np.ascontiguousarray(np.transpose(x[:100], (0, 2, 1))).transpose(0, 2, 1))  # not C-contiguous
    d = net.predict(x[:100].reshape(100, 1, 28, 28))
    assert a.dtype == np.float32 and a.shape == (100, 10)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(a, d)
    np.testing.assert_allclose(a.sum(axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize("bad, message", [
    (lambda x: x.astype(np.int64), "x: expected dtype uint8"),
    (lambda x: x.astype(np.float64), "x: expected dtype uint8"),
    (lambda x: x[:, :20], r"x: expected shape \[N, 1, 28, 28\] or \[N, 28, 28\], got \[50, 20, 28\]"),
    (lambda x: x.reshape(50, 784), "x: expected shape"),
    (lambda x: list(x), "x: expected a numpy array"),
])
def test_bad_images_raise_value_error(digits, bad, message):
    x, y, _, _ = digits
    net = cnn.Network.preset("seed5")
    for call in (lambda: net.fit(bad(x[:50]), y[:50], epochs=1), lambda: net.predict(bad(x[:50])),
                 lambda: net.evaluate(bad(x[:50]), y[:50])):
        with pytest.raises(ValueError, match=message):
            call()


@pytest.mark.parametrize("bad, message", [
    (lambda y: y[:10], r"y: expected shape \[50\] \(one label per image\), got \[10\]"),
    (lambda y: y.astype(np.float32), "y: expected integer labels"),
    (lambda y: np.full(50, 10), "y: label 10 at 0 is not a class of the network"),
])
def test_bad_labels_raise_value_error(digits, bad, message):
    x, y, _, _ = digits
    net = cnn.Network.preset("seed5")
    for call in (lambda: net.fit(x[:50], bad(y[:50]), epochs=1), lambda: net.evaluate(x[:50], bad(y[:50]))):
        with pytest.raises(ValueError, match=message):
            call()


def test_validation_must_be_a_pair(digits):
    x, y, _, _ = digits
    with pytest.raises(ValueError, match="validation: expected a tuple"):
        cnn.Network.preset("seed5").fit(x[:50], y[:50], epochs=1, validation=x[:50])


def test_library_errors_are_cnn_errors(tmp_path):
    with pytest.raises(cnn.Error, match="no preset named"):
        cnn.Network.preset("no-such-net")
    (tmp_path / "bad.cnn").write_bytes(b"not a model")
    with pytest.raises(cnn.Error, match="bad.cnn"):
        cnn.load(str(tmp_path / "bad.cnn"))
    with pytest.raises(cnn.Error, match="optimizer"):
        cnn.Network.preset("seed5").fit(np.zeros((2, 28, 28), np.uint8), [0, 1], epochs=1, optimizer="rmsprop")


def test_save_load_and_export(digits, tmp_path):
    x, y, xt, _ = digits
    net = cnn.Network.preset("seed5")
    net.fit(x[:1000], y[:1000], epochs=1, seed=2)
    net.save(str(tmp_path / "m.cnn"))
    again = cnn.load(str(tmp_path / "m.cnn"))
    np.testing.assert_array_equal(net.predict(xt[:50]), again.predict(xt[:50]))
    assert again.training["epoch"] == 1 and again.training["seed"] == 2
    net.export_onnx(str(tmp_path / "m.onnx"))
    tool("import", str(tmp_path / "m.onnx"), "--out", str(tmp_path / "back.cnn"))  # read by the ONNX importer
    np.testing.assert_allclose(cnn.load(str(tmp_path / "back.cnn")).predict(xt[:50]), net.predict(xt[:50]),
                               atol=1e-5)


def test_a_second_fit_continues_the_run(digits, tmp_path):
    x, y, _, _ = digits
    once = cnn.Network.preset("seed5")
    once.fit(x[:1000], y[:1000], epochs=2, momentum=0.9, seed=4)
    twice = cnn.Network.preset("seed5")
    twice.fit(x[:1000], y[:1000], epochs=1, momentum=0.9, seed=4)
    twice.fit(x[:1000], y[:1000], epochs=1)
    once.save(str(tmp_path / "once.cnn"))
    twice.save(str(tmp_path / "twice.cnn"))
    assert (tmp_path / "once.cnn").read_bytes() == (tmp_path / "twice.cnn").read_bytes()
    with pytest.raises(cnn.Error, match="lr cannot be changed"):
        twice.fit(x[:1000], y[:1000], epochs=1, lr=0.01)


def test_progress_callback_sees_every_batch(digits):
    x, y, _, _ = digits
    seen = []
    cnn.Network.preset("seed5").fit(x[:500], y[:500], epochs=2, batch=100, progress=seen.append)
    assert [(s["epoch"], s["batch"], s["batches"]) for s in seen] == [(e, b, 5) for e in (1, 2) for b in range(1, 6)]
    assert all(s["loss"] > 0 for s in seen)


def test_the_gil_is_released_while_training(digits):
    x, y, _, _ = digits
    net = cnn.Network.preset("seed5")
    worker = threading.Thread(target=lambda: net.fit(x, y, epochs=2, threads=1))
    count = 0
    worker.start()
    while worker.is_alive():  # runs only while fit does not hold the interpreter
        count += 1
    worker.join()
    assert count > 100000


def test_ctrl_c_stops_training_between_batches(digits):
    x, y, _, _ = digits
    net = cnn.Network.preset("seed5")
    threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        net.fit(x, y, epochs=1000, threads=1)
    assert time.monotonic() - start < 30
    assert net.predict(x[:5]).shape == (5, 10)  # the net is usable where it stopped


def softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_a_net_trained_in_python_predicts_the_same_in_opencv_and_in_the_command(digits, tmp_path):
    # OpenCV's dnn is an ONNX reader nobody here wrote; `cnn run` gives every probability, not only predict's top ones
    import cv2
    from onnx import TensorProto, numpy_helper
    x, y, xt, _ = digits
    net = cnn.Network.preset("seed5")
    net.fit(x[:2000], y[:2000], epochs=1, seed=5)
    probs = net.predict(xt[:64])
    assert probs.max(axis=1).mean() > 0.5  # trained: a wrong export would not hide behind near-uniform outputs
    batch = xt[:64].reshape(64, 1, 28, 28).astype(np.float32) * np.float32(1 / 255)  # the library's own scaling
    model = str(tmp_path / "m.cnn")
    net.save(model)
    (tmp_path / "x.pb").write_bytes(numpy_helper.from_array(batch, "input").SerializeToString())

    def cnn_run(path):
        out = tmp_path / "out.pb"
        tool("run", path, "--input", str(tmp_path / "x.pb"), "--output", str(out))
        t = TensorProto()
        t.ParseFromString(out.read_bytes())
        return numpy_helper.to_array(t)

    np.testing.assert_allclose(softmax(cnn_run(model).astype(np.float64)), probs, rtol=0, atol=1e-6)
    for with_softmax in (False, True):  # the default export ends in logits, softmax=True in probabilities
        onnx_path = str(tmp_path / f"m-{with_softmax}.onnx")
        net.export_onnx(onnx_path, softmax=with_softmax)
        reader = cv2.dnn.readNetFromONNX(onnx_path)
        reader.setInput(batch)
        theirs = reader.forward()
        assert theirs.shape == (64, 10)
        if not with_softmax:
            theirs = softmax(theirs.astype(np.float64))
        np.testing.assert_allclose(theirs, probs, rtol=0, atol=1e-5, err_msg=f"OpenCV, softmax={with_softmax}")
        ours = cnn_run(onnx_path).astype(np.float64)
        np.testing.assert_allclose(ours if with_softmax else softmax(ours), probs, rtol=0, atol=1e-5,
                                   err_msg=f"cnn run on the ONNX file, softmax={with_softmax}")
