/* mact-native-temporal-shift.c: mmaction2's TemporalShift (resnet_tsm.py): shifts a
 * 1/shift_div fraction of the channels one segment forward and another one backward in
 * time, then runs the wrapped module.
 *
 * The wrapped module is the child "net", so wrapping a block's `conv1.conv` gives the
 * state-dict keys `conv1.conv.net.weight`, exactly as mmaction2's checkpoints name them.
 * The wrapper has no parameters and is not a config type (mmaction2 does not register it
 * either); ResNetTSM and MobileNetV2TSM insert it. */
#include "mact-native-temporal-shift.h"
#include "mact-native-layers.h"

struct _MactNativeTemporalShift
{
  MactModule  parent_instance;

  gint        num_segments;
  gint        shift_div;
};

G_DEFINE_FINAL_TYPE (MactNativeTemporalShift, mact_native_temporal_shift, MACT_TYPE_MODULE)

static GPtrArray *
mact_native_temporal_shift_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactNativeTemporalShift *self = MACT_NATIVE_TEMPORAL_SHIFT (module);

  if (!mact_native_check_single_input (inputs, "TemporalShift", error))
    return NULL;
  g_autoptr(MactTensor) shifted = mact_temporal_shift (g_ptr_array_index (inputs, 0),
                                                       self->num_segments, self->shift_div,
                                                       error);
  if (shifted == NULL)
    return NULL;
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, shifted);
  return mact_module_forward (mact_module_get_child (module, "net"), args, error);
}

static void
mact_native_temporal_shift_class_init (MactNativeTemporalShiftClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_native_temporal_shift_forward;
}

static void
mact_native_temporal_shift_init (MactNativeTemporalShift *self)
{
}

/**
 * mact_native_temporal_shift_new:
 * @net: (transfer none): the module to run on the shifted features; a reference is taken
 * @num_segments: segments per clip (the first input dimension is N * @num_segments)
 * @shift_div: 1 / @shift_div of the channels are shifted each way
 *
 * Both counts are validated by the callers at build time; the shift op checks the input.
 *
 * Returns: (transfer full): the wrapper, with @net as its child "net"
 */
MactModule *
mact_native_temporal_shift_new (MactModule *net, gint num_segments, gint shift_div)
{
  g_return_val_if_fail (MACT_IS_MODULE (net), NULL);
  g_return_val_if_fail (num_segments > 0 && shift_div > 0, NULL);

  MactModule *module = mact_module_new (MACT_NATIVE_TYPE_TEMPORAL_SHIFT, NULL, NULL);
  MactNativeTemporalShift *self = MACT_NATIVE_TEMPORAL_SHIFT (module);
  self->num_segments = num_segments;
  self->shift_div = shift_div;
  mact_module_add_child (module, "net", net);
  return module;
}
