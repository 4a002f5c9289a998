#!/usr/bin/python3
"""Mact-1.0 from Python: plugin types through the registry, and plugin blocks created,
configured and read by type name with no typelib of their own."""

from mactgi import (GLib, GObject, Json, Mact, MactTestCase, main, np, tensor_from_numpy,
                    tensor_to_numpy)


def values(*pairs):
    """Property names and GObject.Values for create_block() from (name, type, value)."""
    return [p[0] for p in pairs], [GObject.Value(p[1], p[2]) for p in pairs]


class RegistryTest(MactTestCase):
    def setUp(self):
        self.registry = Mact.Registry.new(True)

    def test_list_types(self):
        native = self.registry.list_types("native")
        for name in ("ResNet", "MobileNetV2", "TSNHead", "CrossEntropyLoss",
                     "MixupBlending"):
            self.assertIn(name, native)
        self.assertIn("cls.ResNet", self.registry.list_types("cls"))
        self.assertIn("tv.resnet18", self.registry.list_types("tv"))
        self.assertTrue(self.registry.family_is_loaded("native"))

        with self.assertRaises(GLib.Error) as cm:
            self.registry.list_types("timm")
        self.assertMactError(cm.exception, Mact.registry_error_quark(),
                             Mact.RegistryError.UNKNOWN_FAMILY)

    def test_list_plugins(self):
        plugins = self.registry.list_plugins("native")
        self.assertGreater(len(plugins), 0)
        names = []
        for plugin in plugins:
            self.assertIsInstance(plugin, Mact.Plugin)
            self.assertEqual(plugin.get_family(), "native")
            self.assertTrue(plugin.get_filename().endswith(".so"))
            names += plugin.dup_type_names()
        self.assertEqual(sorted(names), sorted(self.registry.list_types("native")))

    def test_lookup_type(self):
        gtype = self.registry.lookup_type("ResNet")
        self.assertTrue(gtype.is_a(Mact.Backbone))
        self.assertEqual(Mact.Registry.type_name_of(gtype), "ResNet")
        self.assertEqual(Mact.Registry.kind_name_of(gtype), "backbone")
        self.assertEqual(Mact.Registry.kind_name_of(self.registry.lookup_type("TSNHead")),
                         "head")
        self.assertEqual(Mact.Registry.parse_type_name("tv.resnet18"),
                         (True, "tv", "resnet18"))

        with self.assertRaises(GLib.Error) as cm:
            self.registry.lookup_type("NoSuchNet")
        self.assertMactError(cm.exception, Mact.registry_error_quark(),
                             Mact.RegistryError.NOT_FOUND)
        with self.assertRaises(GLib.Error) as cm:
            self.registry.lookup_type("no spaces")
        self.assertMactError(cm.exception, Mact.registry_error_quark(),
                             Mact.RegistryError.INVALID_NAME)

    def test_create_block(self):
        names, vals = values(("num-classes", GObject.TYPE_INT, 3),
                             ("in-channels", GObject.TYPE_INT, 8),
                             ("dropout-ratio", GObject.TYPE_DOUBLE, 0.0),
                             ("spatial-type", GObject.TYPE_STRING, "avg"))
        head = self.registry.create_block("TSNHead", Mact.Head, names, vals)
        self.assertIsInstance(head, Mact.Head)
        self.assertEqual(type(head).__gtype__, self.registry.lookup_type("TSNHead"))
        # Properties set at creation read back, through props and get_property alike;
        # the ones not given keep their defaults.
        self.assertEqual(head.props.num_classes, 3)
        self.assertEqual(head.get_property("in-channels"), 8)
        self.assertEqual(head.props.dropout_ratio, 0.0)
        self.assertEqual(head.props.spatial_type, "avg")
        self.assertEqual(head.props.init_std, 0.01)
        self.assertFalse(head.props.multi_class)
        self.assertEqual(head.get_num_classes(), 3)

        # The block works: TSN's head on [N * segments, C, H, W] features.
        weight = head.get_parameter("fc_cls.weight")
        bias = head.get_parameter("fc_cls.bias")
        self.assertEqual(weight.get_shape(), [3, 8])
        self.assertEqual(bias.get_shape(), [3])
        head.eval()
        feats = np.random.default_rng(3).normal(size=(2, 8, 2, 2)).astype(np.float32)
        scores = tensor_to_numpy(head.forward_head([tensor_from_numpy(feats)], 2))
        pooled = feats.mean(axis=(2, 3)).mean(axis=0, keepdims=True)
        expected = pooled @ tensor_to_numpy(weight).T + tensor_to_numpy(bias)
        np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)

    def test_create_block_structured_properties(self):
        # GVariant and JsonNode properties, as configs give them.
        norm_cfg = Json.from_string('{"type": "BN", "requires_grad": true}')
        names = ["widen-factor", "out-indices", "norm-cfg", "norm-eval"]
        vals = [GObject.Value(GObject.TYPE_DOUBLE, 0.25),
                GObject.Value(GObject.TYPE_VARIANT, GLib.Variant("ax", [5, 7])),
                GObject.Value(Json.Node, norm_cfg),
                GObject.Value(GObject.TYPE_BOOLEAN, True)]
        backbone = self.registry.create_block("MobileNetV2", Mact.Backbone, names, vals)
        self.assertEqual(backbone.props.widen_factor, 0.25)
        self.assertEqual(backbone.props.out_indices.unpack(), [5, 7])
        self.assertEqual(Json.to_string(backbone.props.norm_cfg, False),
                         '{"type":"BN","requires_grad":true}')
        self.assertTrue(backbone.props.norm_eval)
        self.assertEqual(backbone.props.frozen_stages, -1)

    def test_new_with_properties(self):
        # The same through MactModule, for a type looked up once.
        gtype = self.registry.lookup_type("CrossEntropyLoss")
        loss = Mact.Module.new_with_properties(gtype, ["loss-weight"],
                                               [GObject.Value(GObject.TYPE_DOUBLE, 0.5)])
        self.assertIsInstance(loss, Mact.Loss)
        self.assertEqual(loss.props.loss_weight, 0.5)

    def test_create_block_errors(self):
        cases = [
            # Kind mismatch: a head where a backbone is required.
            ("TSNHead", Mact.Backbone, values(("num-classes", GObject.TYPE_INT, 3),
                                              ("in-channels", GObject.TYPE_INT, 8)),
             Mact.registry_error_quark(), Mact.RegistryError.WRONG_KIND),
            ("NoSuchHead", Mact.Head, ([], []),
             Mact.registry_error_quark(), Mact.RegistryError.NOT_FOUND),
            # Not a property of the block.
            ("ResNet", Mact.Backbone, values(("depth", GObject.TYPE_INT, 18),
                                             ("no-such-property", GObject.TYPE_INT, 1)),
             Mact.module_error_quark(), Mact.ModuleError.INVALID_ARGUMENT),
            # A value of the wrong type.
            ("ResNet", Mact.Backbone, values(("depth", GObject.TYPE_STRING, "eighteen")),
             Mact.module_error_quark(), Mact.ModuleError.INVALID_ARGUMENT),
            # The block's own validation.
            ("ResNet", Mact.Backbone, values(("depth", GObject.TYPE_INT, 19)),
             Mact.module_error_quark(), Mact.ModuleError.INVALID_ARGUMENT),
            # A required property left out.
            ("TSNHead", Mact.Head, values(("num-classes", GObject.TYPE_INT, 3)),
             Mact.module_error_quark(), Mact.ModuleError.INVALID_ARGUMENT),
        ]
        for type_name, kind, (names, vals), quark, code in cases:
            with self.subTest(type_name=type_name, names=names):
                with self.assertRaises(GLib.Error) as cm:
                    self.registry.create_block(type_name, kind, names, vals)
                self.assertMactError(cm.exception, quark, code)
                if quark == Mact.module_error_quark():
                    self.assertIn(type_name, cm.exception.message)

    def test_build_from_json(self):
        node = Mact.config_load_data('{"type": "MobileNetV2", "widen_factor": 0.25}', -1)
        backbone = self.registry.build_from_json(node, Mact.Backbone)
        self.assertEqual(backbone.props.widen_factor, 0.25)
        params = backbone.parameters()
        named = backbone.named_parameters()
        self.assertEqual(len(params), named.get_size())
        self.assertEqual(params[0].get_shape(), named.get_value(0).get_shape())
        self.assertTrue(all(p.get_requires_grad() for p in params))


if __name__ == "__main__":
    main()
