"""Shared set-up for the introspection tests: load Mact-1.0 from the build tree.

meson runs these scripts with GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing at the
uninstalled Mact-1.0.typelib and libmact, and MACT_PLUGIN_PATH at the uninstalled plugins,
exactly as an application would see an installed mact.
"""

import os
import sys
import unittest

# Exit status meson reads as "skipped".
SKIP = 77


def skip_whole_test(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


try:
    import gi
    gi.require_version("GLib", "2.0")
    gi.require_version("GObject", "2.0")
    gi.require_version("Json", "1.0")
    gi.require_version("Mact", "1.0")
    from gi.repository import GLib, GObject, Json, Mact  # noqa: F401
except (ImportError, ValueError) as e:
    skip_whole_test(f"PyGObject or Mact-1.0 typelib unavailable: {e}")

try:
    import numpy as np  # noqa: F401
except ImportError:
    skip_whole_test("numpy unavailable")

# tiny-tsn.json: mmaction2's TSN layout on a quarter-width MobileNetV2, a real recognizer
# that builds and runs in milliseconds.
SRCDIR = os.path.dirname(os.path.abspath(__file__))


def tensor_from_numpy(array):
    """A MactTensor holding a copy of a float32 NumPy array (via .tobytes())."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    return Mact.Tensor.new_from_bytes(GLib.Bytes.new(array.tobytes()), list(array.shape))


def tensor_to_numpy(tensor):
    """The values of a MactTensor as a float32 NumPy array of the same shape."""
    data = tensor.to_bytes().get_data()
    return np.frombuffer(data, dtype=np.float32).reshape(tensor.get_shape()).copy()


class MactTestCase(unittest.TestCase):
    def assertMactError(self, error, quark, code):
        """Asserts a GLib.Error is in mact's @quark domain with @code."""
        self.assertIsInstance(error, GLib.Error)
        self.assertEqual(error.domain, GLib.quark_to_string(quark), error.message)
        self.assertEqual(error.code, int(code), error.message)
        self.assertTrue(error.matches(quark, int(code)))


def main():
    unittest.main(verbosity=2)
