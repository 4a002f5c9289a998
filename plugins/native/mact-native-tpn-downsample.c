/* mact-native-tpn-downsample.c: mmaction2's DownSample (necks/tpn.py): a 3-D ConvModule
 * ("conv": conv [+ bn] [+ activate]) and a max pool ("pool", kernel = stride = the
 * downsample scale, ceil mode), pool first when downsample_position is 'before'.
 * mmaction2's TemporalModulation has the same children and forward (conv, then a
 * (scale, 1, 1) pool), so TPN builds it with this block too; the keys are the same
 * (`*.conv.conv.weight`), the pool has none. */
#include "mact-native-tpn-downsample.h"

struct _MactNativeTPNDownSample
{
  MactModule  parent_instance;

  gboolean    pool_before;
  MactModule *conv;   /* borrowed: the children table holds them */
  MactModule *pool;
};

G_DEFINE_FINAL_TYPE (MactNativeTPNDownSample, mact_native_tpn_downsample, MACT_TYPE_MODULE)

static GPtrArray *
mact_native_tpn_downsample_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactNativeTPNDownSample *self = MACT_NATIVE_TPN_DOWNSAMPLE (module);
  MactModule *first = self->pool_before ? self->pool : self->conv;
  MactModule *second = self->pool_before ? self->conv : self->pool;

  g_autoptr(GPtrArray) mid = mact_module_forward (first, inputs, error);
  if (mid == NULL)
    return NULL;
  return mact_module_forward (second, mid, error);
}

static void
mact_native_tpn_downsample_class_init (MactNativeTPNDownSampleClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_native_tpn_downsample_forward;
}

static void
mact_native_tpn_downsample_init (MactNativeTPNDownSample *self)
{
}

static GVariant *
triple (const gint *v)
{
  const gint64 values[3] = { v[0], v[1], v[2] };
  return mact_int_tuple_new (3, values);
}

/**
 * mact_native_tpn_downsample_new:
 * @spec: the block's arguments
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the built block, or %NULL with a
 *   %MACT_MODULE_ERROR_INVALID_ARGUMENT error from the conv or pool
 */
MactModule *
mact_native_tpn_downsample_new (const MactNativeTPNDownSampleSpec *spec, GError **error)
{
  static const gint zero[3] = { 0, 0, 0 };

  g_autoptr(MactModule) conv =
    mact_module_new (MACT_TYPE_CONV_MODULE, error,
                     "dims", 3,
                     "in-channels", spec->in_channels,
                     "out-channels", spec->out_channels,
                     "kernel-size", triple (spec->kernel_size),
                     "stride", triple (spec->stride),
                     "padding", triple (spec->padding),
                     "groups", spec->groups,
                     "bias", spec->bias ? MACT_CONV_BIAS_TRUE : MACT_CONV_BIAS_FALSE,
                     "with-norm", spec->with_norm,
                     "has-act", spec->with_act,
                     NULL);
  if (conv == NULL)
    return NULL;
  g_autoptr(MactModule) pool = mact_max_pool_new (3, spec->scale, spec->scale, zero, TRUE,
                                                  error);
  if (pool == NULL)
    return NULL;
  MactModule *module = mact_module_new (MACT_NATIVE_TYPE_TPN_DOWNSAMPLE, error, NULL);
  if (module == NULL)
    return NULL;
  MactNativeTPNDownSample *self = MACT_NATIVE_TPN_DOWNSAMPLE (module);
  self->pool_before = spec->pool_before;
  mact_module_add_child (module, "conv", conv);
  mact_module_add_child (module, "pool", pool);
  self->conv = conv;
  self->pool = pool;
  return module;
}
