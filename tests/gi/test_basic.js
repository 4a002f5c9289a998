// Mact-1.0 from JavaScript (gjs -m): the basic path of an embedding application.
// Recognizers from a JSON string and a config file, tensors from a Float32Array through
// GLib.Bytes and back, classify/forward_test, plugin types through the registry, a plugin
// block created by type name with its properties set and read, and mact's GLib.Error
// domains and codes for bad configs.
//
// meson runs it with GI_TYPELIB_PATH, LD_LIBRARY_PATH and MACT_PLUGIN_PATH pointing at
// the build tree and MACT_TEST_DATA_DIR at tests/gi.  Output is TAP; any failed check
// (or an uncaught exception, which gjs turns into a non-zero exit) fails the test.

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Mact from 'gi://Mact?version=1.0';
import System from 'system';

const DATA_DIR = GLib.getenv('MACT_TEST_DATA_DIR') ?? '.';
const CONFIG_FILE = GLib.build_filenamev([DATA_DIR, 'tiny-tsn.json']);
const NUM_CLASSES = 4;

// ---- a small TAP harness

let nTests = 0;
let nFailed = 0;

function test(name, fn) {
    nTests++;
    try {
        fn();
        print(`ok ${nTests} - ${name}`);
    } catch (e) {
        nFailed++;
        print(`not ok ${nTests} - ${name}`);
        for (const line of `${e}\n${e.stack ?? ''}`.trim().split('\n'))
            print(`# ${line}`);
    }
}

function check(condition, message) {
    if (!condition)
        throw new Error(`check failed: ${message}`);
}

function checkEqual(actual, expected, what) {
    const a = JSON.stringify(actual), b = JSON.stringify(expected);
    if (a !== b)
        throw new Error(`${what}: got ${a}, expected ${b}`);
}

function checkClose(actual, expected, tolerance, what) {
    checkEqual(actual.length, expected.length, `${what}: length`);
    for (let i = 0; i < actual.length; i++) {
        if (!(Math.abs(actual[i] - expected[i]) <= tolerance))
            throw new Error(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
    }
}

// Calls @fn, which must throw a GLib.Error in @quark with @code.
function checkThrowsMact(fn, quark, code, what) {
    try {
        fn();
    } catch (e) {
        check(e instanceof GLib.Error, `${what}: a GLib.Error, not ${e}`);
        check(e.matches(quark, code),
            `${what}: ${GLib.quark_to_string(e.domain)} ${e.code} (${e.message}), ` +
            `expected ${GLib.quark_to_string(quark)} ${code}`);
        return e;
    }
    throw new Error(`${what}: no error thrown`);
}

// ---- tensors to and from typed arrays

// A MactTensor holding a copy of @values (any array of numbers) with @shape: the float32
// values go through GLib.Bytes, native-endian and row-major, as Tensor.new_from_bytes
// takes them.
function tensorFromArray(values, shape) {
    const f32 = Float32Array.from(values);
    return Mact.Tensor.new_from_bytes(new GLib.Bytes(new Uint8Array(f32.buffer)), shape);
}

// A tensor's values as a Float32Array.  slice() copies the bytes into a buffer of
// their own, which is aligned for Float32Array whatever offset the bytes had.
function tensorToArray(tensor) {
    const bytes = tensor.to_bytes().toArray().slice();
    return new Float32Array(bytes.buffer, 0, bytes.length / 4);
}

// A deterministic pseudo-random clip (a linear congruential generator), so that every
// run classifies the same input.
function randomArray(n, seed) {
    const out = new Float32Array(n);
    let s = seed >>> 0;
    for (let i = 0; i < n; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        out[i] = s / 2 ** 32;
    }
    return out;
}

// A GObject.Value holding @value as @gtype, for the arrays of property values that
// create_block() and new_with_properties() take.
function gvalue(gtype, value) {
    const v = new GObject.Value();
    v.init(gtype);
    if (gtype === GObject.TYPE_INT)
        v.set_int(value);
    else if (gtype === GObject.TYPE_DOUBLE)
        v.set_double(value);
    else
        throw new Error(`gvalue: unhandled type ${GObject.type_name(gtype)}`);
    return v;
}

function sum(values) {
    return values.reduce((a, b) => a + b, 0);
}

function modelJson() {
    const [ok, contents] = GLib.file_get_contents(CONFIG_FILE);
    check(ok, `read ${CONFIG_FILE}`);
    const config = JSON.parse(new TextDecoder().decode(contents));
    return JSON.stringify(config.model);
}

// ---- the tests

// One registry for the whole run: it loads each plugin family once.
const registry = Mact.Registry.new(true);
// One clip of two 32x32 views: [N, V, C, H, W], as Recognizer2D's forward_test takes it.
const CLIP_SHAPE = [1, 2, 3, 32, 32];
const clip = tensorFromArray(randomArray(2 * 3 * 32 * 32, 11), CLIP_SHAPE);

function checkRecognizer(rec) {
    check(rec instanceof Mact.Recognizer2D, 'a Recognizer2D');
    check(rec.get_backbone() instanceof Mact.Backbone, 'the backbone is a Mact.Backbone');
    checkEqual(Mact.Registry.type_name_of(rec.get_backbone().constructor.$gtype),
        'MobileNetV2', 'backbone type name');
    checkEqual(rec.get_cls_head().num_classes, NUM_CLASSES, 'cls_head num-classes');
}

test('tensor from a Float32Array through GLib.Bytes and back', () => {
    const values = Array.from({length: 24}, (_, i) => i / 8 - 1);
    const t = tensorFromArray(values, [2, 3, 4]);
    checkEqual(t.get_shape(), [2, 3, 4], 'shape');
    checkEqual(t.get_numel(), 24, 'numel');
    checkClose(tensorToArray(t), values, 0, 'values');
    // A view reads back in row-major order: the transpose of a [2, 3, 4] tensor.
    const p = t.permute([2, 0, 1]);
    checkEqual(p.get_shape(), [4, 2, 3], 'permuted shape');
    checkEqual(tensorToArray(p)[1], values[4], 'permuted [0, 0, 1] is [0, 1, 0]');
    checkThrowsMact(() => tensorFromArray([1, 2, 3, 4, 5], [2, 3]),
        Mact.tensor_error_quark(), Mact.TensorError.SHAPE, 'wrong byte count');
});

let fromString = null;
test('recognizer from a JSON string', () => {
    fromString = Mact.Recognizer.new_from_data(modelJson(), -1, registry);
    checkRecognizer(fromString);
});

test('recognizer from tiny-tsn.json', () => {
    checkRecognizer(Mact.Recognizer.new_from_file(CONFIG_FILE, registry));
    // The default registry (null) finds the same plugins through MACT_PLUGIN_PATH.
    checkRecognizer(Mact.Recognizer.new_from_file(CONFIG_FILE, null));
});

test('classify and forward_test read back as scores', () => {
    check(fromString !== null, 'the recognizer from a JSON string was built');
    fromString.eval();
    const scores = fromString.classify(clip, null);
    checkEqual(scores.get_shape(), [1, NUM_CLASSES], 'scores shape');
    const values = tensorToArray(scores);
    // test_cfg's average_clips "prob": the mean of the views' softmaxes.
    check(values.every(v => v > 0 && v < 1), `probabilities: ${values}`);
    checkClose([sum(values)], [1], 1e-5, 'sum of probabilities');
    // forward_test is the same computation; evaluation mode is deterministic.
    checkClose(tensorToArray(fromString.forward_test(clip)), values, 1e-6, 'forward_test');
    checkClose(tensorToArray(fromString.classify(clip, null)), values, 0, 'classify again');
});

test('classify needs evaluation mode', () => {
    const rec = Mact.Recognizer.new_from_data(modelJson(), -1, registry);
    rec.train(true);
    checkThrowsMact(() => rec.classify(clip, null), Mact.recognizer_error_quark(),
        Mact.RecognizerError.MODE, 'classify in training mode');
});

test('plugin types through the registry', () => {
    const families = registry.list_families();
    check(families.includes('native'), `families: ${families}`);
    const native = registry.list_types('native');
    for (const name of ['MobileNetV2', 'ResNet', 'TSNHead', 'CrossEntropyLoss'])
        check(native.includes(name), `native provides ${name}`);
    const gtype = registry.lookup_type('TSNHead');
    checkEqual(Mact.Registry.kind_name_of(gtype), 'head', 'TSNHead kind');
    checkThrowsMact(() => registry.list_types('timm'), Mact.registry_error_quark(),
        Mact.RegistryError.UNKNOWN_FAMILY, 'unknown family');
    checkThrowsMact(() => registry.lookup_type('NoSuchNet'), Mact.registry_error_quark(),
        Mact.RegistryError.NOT_FOUND, 'unknown type');
});

test('a plugin block created by type name, properties set and read', () => {
    // Plugin classes have no typelib of their own: gjs sees the block as its kind
    // (Mact.Head) and reaches the plugin's own properties through GObject.
    const names = ['num-classes', 'in-channels', 'dropout-ratio'];
    const values = [gvalue(GObject.TYPE_INT, 3), gvalue(GObject.TYPE_INT, 8),
        gvalue(GObject.TYPE_DOUBLE, 0.0)];
    const head = registry.create_block('TSNHead', Mact.Head.$gtype, names, values);
    check(head instanceof Mact.Head, 'a Mact.Head');
    checkEqual(Mact.Registry.type_name_of(head.constructor.$gtype), 'TSNHead', 'type name');
    checkEqual(head.num_classes, 3, 'num-classes as set');
    checkEqual(head.in_channels, 8, 'in-channels as set');
    checkEqual(head.dropout_ratio, 0, 'dropout-ratio as set');
    checkEqual(head.spatial_type, 'avg', 'spatial-type keeps its default');
    checkEqual(head.get_num_classes(), 3, 'get_num_classes()');
    checkEqual(head.get_parameter('fc_cls.weight').get_shape(), [3, 8], 'fc_cls shape');

    // Plugin properties are construct-only (they are config arguments): a block built
    // from a config reads them back by name, and a type looked up once is created with
    // them through Mact.Module.new_with_properties().
    const backbone = registry.build_from_json(
        Mact.config_load_data('{"type": "MobileNetV2", "widen_factor": 0.25}', -1),
        Mact.Backbone.$gtype);
    checkEqual(backbone.widen_factor, 0.25, 'widen-factor from the config');
    checkEqual(backbone.frozen_stages, -1, 'frozen-stages keeps its default');
    const loss = Mact.Module.new_with_properties(registry.lookup_type('CrossEntropyLoss'),
        ['loss-weight'], [gvalue(GObject.TYPE_DOUBLE, 0.5)]);
    check(loss instanceof Mact.Loss, 'a Mact.Loss');
    checkEqual(loss.loss_weight, 0.5, 'loss-weight as set');

    checkThrowsMact(() => registry.create_block('TSNHead', Mact.Backbone.$gtype, names,
        values), Mact.registry_error_quark(), Mact.RegistryError.WRONG_KIND, 'wrong kind');
});

test('bad configs throw GLib.Error with mact domains and codes', () => {
    const cases = [
        ['{"type": "Recognizer2D", ', Mact.config_error_quark(), Mact.ConfigError.PARSE],
        ['[1, 2]', Mact.config_error_quark(), Mact.ConfigError.INVALID],
        ['{"type": "Recognizer2D", "backbone": {"type": "NoSuchNet"}}',
            Mact.registry_error_quark(), Mact.RegistryError.NOT_FOUND],
        ['{"type": "Recognizer2D", "backbone": {"type": "MobileNetV2", ' +
         '"widen_factor": "wide"}}',
            Mact.config_error_quark(), Mact.ConfigError.WRONG_TYPE],
    ];
    for (const [data, quark, code] of cases) {
        checkThrowsMact(() => Mact.Recognizer.new_from_data(data, -1, registry),
            quark, code, data);
    }
    const missing = GLib.build_filenamev([DATA_DIR, 'no-such.json']);
    const e = checkThrowsMact(() => Mact.Recognizer.new_from_file(missing, registry),
        Mact.config_error_quark(), Mact.ConfigError.PARSE, 'missing config file');
    check(e.message.includes('no-such.json'), `the message names the file: ${e.message}`);
});

print(`1..${nTests}`);
if (nFailed > 0) {
    printerr(`${nFailed} of ${nTests} tests failed`);
    System.exit(1);
}
