#!/usr/bin/python3
"""Mact-1.0 from Python: recognizers from a config file and a JSON string, weights,
tensors to and from NumPy, and mact's GLib.Error domains and codes."""

import json
import os
import tempfile

from mactgi import (GLib, Json, Mact, MactTestCase, SRCDIR, main, np, tensor_from_numpy,
                    tensor_to_numpy)

CONFIG_FILE = os.path.join(SRCDIR, "tiny-tsn.json")
with open(CONFIG_FILE, encoding="utf-8") as f:
    MODEL_JSON = json.dumps(json.load(f)["model"])

# One clip of two 32x32 views: [N, V, C, H, W] as Recognizer2D's forward_test wants.
CLIP_SHAPE = (1, 2, 3, 32, 32)


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


class RecognizerTest(MactTestCase):
    def setUp(self):
        self.registry = Mact.Registry.new(True)
        self.clip = np.random.default_rng(7).uniform(0, 1, CLIP_SHAPE).astype(np.float32)

    def build(self):
        rec = Mact.Recognizer.new_from_data(MODEL_JSON, -1, self.registry)
        rec.eval()
        return rec

    def scores(self, rec):
        return tensor_to_numpy(rec.forward_test(tensor_from_numpy(self.clip)))

    def check_structure(self, rec):
        self.assertIsInstance(rec, Mact.Recognizer2D)
        self.assertTrue(rec.get_with_cls_head())
        self.assertFalse(rec.get_with_neck())
        self.assertIsNone(rec.get_neck())
        backbone = rec.get_backbone()
        head = rec.get_cls_head()
        # Plugin classes have no typelib of their own: Python sees them as their kind.
        self.assertIsInstance(backbone, Mact.Backbone)
        self.assertIsInstance(head, Mact.Head)
        self.assertEqual(Mact.Registry.type_name_of(type(head).__gtype__), "TSNHead")
        self.assertEqual(backbone.get_property("widen-factor"), 0.25)
        self.assertEqual(head.props.num_classes, 4)
        self.assertEqual(head.props.in_channels, 1280)
        test_cfg = Json.to_string(rec.get_test_cfg(), False)
        self.assertEqual(json.loads(test_cfg), {"average_clips": "prob"})

    def test_from_file(self):
        rec = Mact.Recognizer.new_from_file(CONFIG_FILE, self.registry)
        self.check_structure(rec)

    def test_from_json_string(self):
        self.check_structure(Mact.Recognizer.new_from_data(MODEL_JSON, -1, self.registry))

    def test_from_json_node(self):
        node = Mact.config_load_data(MODEL_JSON, -1)
        self.check_structure(Mact.Recognizer.new_from_json(node, self.registry))
        # The default registry (None) finds the same plugins through MACT_PLUGIN_PATH.
        self.check_structure(Mact.Recognizer.new_from_json(node, None))

    def test_tensor_bytes_round_trip(self):
        a = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 8 - 1
        t = tensor_from_numpy(a)
        self.assertEqual(t.get_shape(), [2, 3, 4])
        self.assertEqual(t.get_ndim(), 3)
        self.assertEqual(t.get_numel(), 24)
        np.testing.assert_array_equal(tensor_to_numpy(t), a)
        # Ops work on tensors made from bytes, and views read back in row-major order.
        np.testing.assert_array_equal(tensor_to_numpy(Mact.mul_scalar(t, 2.0)), a * 2)
        np.testing.assert_array_equal(tensor_to_numpy(t.permute([2, 0, 1])),
                                      a.transpose(2, 0, 1))
        np.testing.assert_allclose(tensor_to_numpy(Mact.softmax(t, 2)),
                                   np.apply_along_axis(softmax, 2, a), rtol=1e-6)

    def test_tensor_bytes_wrong_size(self):
        with self.assertRaises(GLib.Error) as cm:
            Mact.Tensor.new_from_bytes(GLib.Bytes.new(b"\0" * 20), [2, 3])
        self.assertMactError(cm.exception, Mact.tensor_error_quark(),
                             Mact.TensorError.SHAPE)
        with self.assertRaises(GLib.Error) as cm:
            Mact.Tensor.new_from_bytes(GLib.Bytes.new(b"\0" * 7), [2])
        self.assertMactError(cm.exception, Mact.tensor_error_quark(),
                             Mact.TensorError.SHAPE)

    def test_scores_to_numpy(self):
        rec = self.build()
        scores = self.scores(rec)
        self.assertEqual(scores.shape, (1, 4))
        # average_clips "prob": the mean of per-view softmaxes is a distribution.
        self.assertAlmostEqual(float(scores.sum()), 1.0, places=5)
        self.assertTrue((scores > 0).all())
        # Evaluation mode is deterministic (dropout off).
        np.testing.assert_array_equal(self.scores(rec), scores)

    def test_load_weights(self):
        source = self.build()
        expected = self.scores(source)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "weights.safetensors")
            self.assertTrue(Mact.safetensors_save(path, source.state_dict(), None))

            # A second recognizer has its own random init until it loads the weights.
            rec = self.build()
            key = "backbone.conv1.conv.weight"
            source_weight = tensor_to_numpy(source.state_dict().lookup(key))
            self.assertFalse(np.array_equal(tensor_to_numpy(rec.state_dict().lookup(key)),
                                            source_weight))
            self.assertTrue(rec.load_weights(path, True))
            np.testing.assert_array_equal(tensor_to_numpy(rec.state_dict().lookup(key)),
                                          source_weight)
            np.testing.assert_allclose(self.scores(rec), expected, rtol=1e-6, atol=1e-7)

            # Weights written from NumPy: a zero classifier with bias b scores softmax(b)
            # for every view, whatever the backbone computes.
            bias = np.array([0.5, -1.0, 2.0, 0.25], dtype=np.float32)
            state = Mact.TensorDict.new()
            state.insert("cls_head.fc_cls.weight",
                         tensor_from_numpy(np.zeros((4, 1280), np.float32)))
            state.insert("cls_head.fc_cls.bias", tensor_from_numpy(bias))
            head_path = os.path.join(tmp, "head.safetensors")
            Mact.safetensors_save(head_path, state, {"format": "pt"})
            self.assertTrue(rec.load_weights(head_path, False))
            np.testing.assert_allclose(self.scores(rec)[0], softmax(bias), rtol=1e-5)

            tensors, metadata = Mact.safetensors_load(head_path)
            self.assertEqual(metadata, {"format": "pt"})
            self.assertEqual(tensors.get_keys(), ["cls_head.fc_cls.weight",
                                                  "cls_head.fc_cls.bias"])
            np.testing.assert_array_equal(
                tensor_to_numpy(tensors.lookup("cls_head.fc_cls.bias")), bias)

            # strict: the head-only file misses the backbone's keys.
            with self.assertRaises(GLib.Error) as cm:
                rec.load_weights(head_path, True)
            self.assertMactError(cm.exception, Mact.module_error_quark(),
                                 Mact.ModuleError.STATE_DICT)
            self.assertIn("backbone.", cm.exception.message)

            with self.assertRaises(GLib.Error) as cm:
                rec.load_weights(os.path.join(tmp, "missing.safetensors"), True)
            self.assertMactError(cm.exception, Mact.io_error_quark(), Mact.IoError.OPEN)

    def test_bad_config(self):
        cases = [
            ("{\"type\": \"Recognizer2D\", ", Mact.config_error_quark(),
             Mact.ConfigError.PARSE),
            ("[1, 2]", Mact.config_error_quark(), Mact.ConfigError.INVALID),
            ("{\"type\": \"Recognizer2D\", \"backbone\": {\"type\": \"NoSuchNet\"}}",
             Mact.registry_error_quark(), Mact.RegistryError.NOT_FOUND),
            ("{\"type\": \"Recognizer2D\", \"backbone\": {\"type\": \"MobileNetV2\", "
             "\"widen_factor\": \"wide\"}}",
             Mact.config_error_quark(), Mact.ConfigError.WRONG_TYPE),
            ("{\"type\": \"Recognizer2D\", \"backbone\": {\"type\": \"MobileNetV2\", "
             "\"no_such_key\": 1}}",
             Mact.config_error_quark(), Mact.ConfigError.UNKNOWN_KEY),
        ]
        for data, quark, code in cases:
            with self.subTest(config=data):
                with self.assertRaises(GLib.Error) as cm:
                    Mact.Recognizer.new_from_data(data, -1, self.registry)
                self.assertMactError(cm.exception, quark, code)

        with self.assertRaises(GLib.Error) as cm:
            Mact.Recognizer.new_from_file(os.path.join(SRCDIR, "no-such-config.json"),
                                          self.registry)
        self.assertEqual(cm.exception.domain,
                         GLib.quark_to_string(Mact.config_error_quark()))

    def test_wrong_input(self):
        rec = self.build()
        with self.assertRaises(GLib.Error) as cm:
            rec.forward_test(tensor_from_numpy(np.zeros((2, 3, 32, 32), np.float32)))
        self.assertMactError(cm.exception, Mact.tensor_error_quark(),
                             Mact.TensorError.SHAPE)


if __name__ == "__main__":
    main()
