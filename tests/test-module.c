/* MactModule: structure, state-dict keys and order, named parameters, train/eval,
 * replacing children, submodule paths, forward hooks, set_parameter, GInitable
 * construction, int tuples and every MACT_MODULE_ERROR path of the base class. */
#include "mact-test.h"

/* ---- a leaf block: parameter "weight", absent "bias", buffer "running_mean";
 * forward multiplies by the weight (broadcast over the last dimension). ---- */

#define TEST_TYPE_LEAF (test_leaf_get_type ())
G_DECLARE_FINAL_TYPE (TestLeaf, test_leaf, TEST, LEAF, MactModule)

struct _TestLeaf
{
  MactModule parent_instance;
  gint       features;
  gboolean   fail;
  gboolean   fail_silently;
};

G_DEFINE_FINAL_TYPE (TestLeaf, test_leaf, MACT_TYPE_MODULE)

enum { LEAF_PROP_0, LEAF_PROP_FEATURES, LEAF_PROP_FAIL, LEAF_PROP_FAIL_SILENTLY };

static guint leaf_builds;
static guint leaf_inits;

static void
test_leaf_set_property (GObject *object, guint prop_id, const GValue *value,
                        GParamSpec *pspec)
{
  TestLeaf *self = TEST_LEAF (object);
  switch (prop_id)
    {
    case LEAF_PROP_FEATURES:
      self->features = g_value_get_int (value);
      break;
    case LEAF_PROP_FAIL:
      self->fail = g_value_get_boolean (value);
      break;
    case LEAF_PROP_FAIL_SILENTLY:
      self->fail_silently = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
test_leaf_build (MactModule *module, GError **error)
{
  TestLeaf *self = TEST_LEAF (module);
  leaf_builds++;
  if (!MACT_MODULE_CLASS (test_leaf_parent_class)->build (module, error))
    return FALSE;
  if (self->fail)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "TestLeaf: features %d rejected", self->features);
      return FALSE;
    }
  if (self->fail_silently)
    return FALSE;
  const gint64 shape[1] = { self->features };
  g_autoptr(MactTensor) weight = mact_tensor_new_full (1, shape, 1.0f, error);
  g_autoptr(MactTensor) mean = mact_tensor_new (1, shape, error);
  mact_module_register_parameter (module, "weight", weight);
  mact_module_register_parameter (module, "bias", NULL);
  mact_module_register_buffer (module, "running_mean", mean);
  return TRUE;
}

static gboolean
test_leaf_init_weights (MactModule *module, MactGenerator *generator, GError **error)
{
  leaf_inits++;
  mact_tensor_fill (mact_module_get_parameter (module, "weight"), 3.0f);
  return TRUE;
}

static GPtrArray *
test_leaf_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  if (inputs->len != 1)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "TestLeaf: one input expected, got %u", inputs->len);
      return NULL;
    }
  MactTensor *y = mact_mul (g_ptr_array_index (inputs, 0),
                            mact_module_get_parameter (module, "weight"), error);
  if (y == NULL)
    return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (out, y);
  return out;
}

static void
test_leaf_class_init (TestLeafClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  object_class->set_property = test_leaf_set_property;
  module_class->build = test_leaf_build;
  module_class->init_weights = test_leaf_init_weights;
  module_class->forward = test_leaf_forward;
  const GParamFlags flags = G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY |
                            G_PARAM_STATIC_STRINGS;
  g_object_class_install_property (object_class, LEAF_PROP_FEATURES,
    g_param_spec_int ("features", NULL, NULL, 0, 64, 2, flags));
  g_object_class_install_property (object_class, LEAF_PROP_FAIL,
    g_param_spec_boolean ("fail", NULL, NULL, FALSE, flags));
  g_object_class_install_property (object_class, LEAF_PROP_FAIL_SILENTLY,
    g_param_spec_boolean ("fail-silently", NULL, NULL, FALSE, flags));
}

static void
test_leaf_init (TestLeaf *self)
{
}

static MactModule *
leaf_new (gint features)
{
  g_autoptr(GError) error = NULL;
  MactModule *m = mact_module_new (TEST_TYPE_LEAF, &error, "features", features, NULL);
  assert_non_null (m);
  return m;
}

/* ---- a block: parameter "scale", buffer "count", children "conv1" (a leaf) and "relu";
 * with norm-eval, train(TRUE) keeps conv1 in eval mode (as mmaction2's norm_eval). ---- */

#define TEST_TYPE_BLOCK (test_block_get_type ())
G_DECLARE_FINAL_TYPE (TestBlock, test_block, TEST, BLOCK, MactModule)

struct _TestBlock
{
  MactModule parent_instance;
  gboolean   norm_eval;
};

G_DEFINE_FINAL_TYPE (TestBlock, test_block, MACT_TYPE_MODULE)

static gboolean
test_block_build (MactModule *module, GError **error)
{
  if (!MACT_MODULE_CLASS (test_block_parent_class)->build (module, error))
    return FALSE;
  g_autoptr(MactTensor) scale = mact_tensor_new_scalar (2.0f);
  g_autoptr(MactTensor) count = mact_tensor_new_scalar (0.0f);
  mact_module_register_parameter (module, "scale", scale);
  mact_module_register_buffer (module, "count", count);
  g_autoptr(MactModule) conv1 = leaf_new (2);
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);
  mact_module_add_child (module, "conv1", conv1);
  mact_module_add_child (module, "relu", relu);
  return TRUE;
}

static GPtrArray *
test_block_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  g_autoptr(MactTensor) a = mact_module_forward1 (mact_module_get_child (module, "conv1"),
                                                  g_ptr_array_index (inputs, 0), error);
  if (a == NULL)
    return NULL;
  g_autoptr(MactTensor) b = mact_module_forward1 (mact_module_get_child (module, "relu"),
                                                  a, error);
  if (b == NULL)
    return NULL;
  MactTensor *y = mact_mul (b, mact_module_get_parameter (module, "scale"), error);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (out, y);
  return out;
}

static void
test_block_set_training (MactModule *module, gboolean training)
{
  MACT_MODULE_CLASS (test_block_parent_class)->set_training (module, training);
  if (training && TEST_BLOCK (module)->norm_eval)
    mact_module_eval (mact_module_get_child (module, "conv1"));
}

static void
test_block_class_init (TestBlockClass *klass)
{
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  module_class->build = test_block_build;
  module_class->forward = test_block_forward;
  module_class->set_training = test_block_set_training;
}

static void
test_block_init (TestBlock *self)
{
}

/* ---- a block returning two outputs (for forward1) ---- */

#define TEST_TYPE_SPLIT (test_split_get_type ())
G_DECLARE_FINAL_TYPE (TestSplit, test_split, TEST, SPLIT, MactModule)

struct _TestSplit
{
  MactModule parent_instance;
};

G_DEFINE_FINAL_TYPE (TestSplit, test_split, MACT_TYPE_MODULE)

static GPtrArray *
test_split_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (out, mact_tensor_ref (g_ptr_array_index (inputs, 0)));
  g_ptr_array_add (out, mact_tensor_ref (g_ptr_array_index (inputs, 0)));
  return out;
}

static void
test_split_class_init (TestSplitClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = test_split_forward;
}

static void
test_split_init (TestSplit *self)
{
}

/* top (a bare MactModule container): stem (leaf), layer1 (Sequential of 2 blocks),
 * head (leaf of 3 features). */
static MactModule *
build_net (void)
{
  g_autoptr(GError) error = NULL;
  MactModule *top = mact_module_new (MACT_TYPE_MODULE, &error, NULL);
  assert_non_null (top);
  g_autoptr(MactModule) stem = leaf_new (2);
  g_autoptr(MactModule) layer1 = mact_sequential_new ();
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(MactModule) block = mact_module_new (TEST_TYPE_BLOCK, &error, NULL);
      assert_non_null (block);
      mact_sequential_append (MACT_SEQUENTIAL (layer1), block);
    }
  g_autoptr(MactModule) head = leaf_new (3);
  mact_module_add_child (top, "stem", stem);
  mact_module_add_child (top, "layer1", layer1);
  mact_module_add_child (top, "head", head);
  return top;
}

static void
assert_keys (MactTensorDict *dict, const char *const *expected)
{
  guint n = 0;
  while (expected[n] != NULL)
    n++;
  g_auto(GStrv) keys = mact_tensor_dict_get_keys (dict);
  g_autofree char *joined = g_strjoinv (" ", keys);
  if (mact_tensor_dict_get_size (dict) != n)
    fail_msg ("got %u keys, expected %u: %s", mact_tensor_dict_get_size (dict), n, joined);
  for (guint i = 0; i < n; i++)
    assert_string_equal (keys[i], expected[i]);
}

static void
test_state_dict_order (void **state)
{
  g_autoptr(MactModule) net = build_net ();
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (net);
  /* PyTorch order: own parameters, own buffers, then children depth-first; the absent
   * bias and the parameterless relu leave no key. */
  static const char *const expected[] = {
    "stem.weight", "stem.running_mean",
    "layer1.0.scale", "layer1.0.count",
    "layer1.0.conv1.weight", "layer1.0.conv1.running_mean",
    "layer1.1.scale", "layer1.1.count",
    "layer1.1.conv1.weight", "layer1.1.conv1.running_mean",
    "head.weight", "head.running_mean",
    NULL
  };
  assert_keys (sd, expected);

  /* Shared with the module, not copied. */
  MactTensor *w = mact_module_get_parameter (net, "layer1.1.conv1.weight");
  assert_non_null (w);
  assert_ptr_equal (mact_tensor_dict_lookup (sd, "layer1.1.conv1.weight"), w);
  mact_tensor_fill (mact_tensor_dict_lookup (sd, "head.weight"), 7.0f);
  assert_float_equal (mact_tensor_get_item (mact_module_get_parameter (
    mact_module_get_child (net, "head"), "weight"), (gint64[]) { 2 }), 7.0f, 0.0);

  /* Parameters are leaves that require grad; buffers do not. */
  assert_true (mact_tensor_get_requires_grad (w));
  assert_true (mact_tensor_is_leaf (w));
  assert_false (mact_tensor_get_requires_grad (mact_module_get_buffer (net,
                                                 "stem.running_mean")));
  assert_null (mact_module_get_parameter (net, "stem.bias"));
  assert_null (mact_module_get_parameter (net, "stem.running_mean"));
  assert_null (mact_module_get_buffer (net, "stem.weight"));
  assert_null (mact_module_get_parameter (net, "nope.weight"));

  g_auto(GStrv) children = mact_module_list_children (net);
  assert_int_equal (g_strv_length (children), 3);
  assert_string_equal (children[0], "stem");
  assert_string_equal (children[1], "layer1");
  assert_string_equal (children[2], "head");
  assert_null (mact_module_get_child (net, "layer2"));
  assert_int_equal (mact_sequential_get_length (MACT_SEQUENTIAL (
    mact_module_get_child (net, "layer1"))), 2);
}

static void
test_named_parameters (void **state)
{
  g_autoptr(MactModule) net = build_net ();
  g_autoptr(MactTensorDict) named = mact_module_named_parameters (net);
  static const char *const expected[] = {
    "stem.weight", "layer1.0.scale", "layer1.0.conv1.weight", "layer1.1.scale",
    "layer1.1.conv1.weight", "head.weight", NULL
  };
  assert_keys (named, expected);

  g_autoptr(GPtrArray) params = mact_module_parameters (net);
  assert_int_equal (params->len, 6);
  for (guint i = 0; i < params->len; i++)
    assert_ptr_equal (g_ptr_array_index (params, i), mact_tensor_dict_get_value (named, i));

  /* A tied parameter (the same tensor in two places) is listed once, as in PyTorch;
   * the state dict still has both keys. */
  MactTensor *stem_w = mact_module_get_parameter (net, "stem.weight");
  mact_module_register_parameter (mact_module_get_child (net, "head"), "tied", stem_w);
  g_autoptr(MactTensorDict) named2 = mact_module_named_parameters (net);
  assert_int_equal (mact_tensor_dict_get_size (named2), 6);
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (net);
  assert_true (mact_tensor_dict_contains (sd, "head.tied"));
  assert_string_equal (mact_tensor_dict_get_key (sd, 11), "head.tied");

  /* Re-registering keeps the position. */
  g_autoptr(MactTensor) other = mact_tensor_new_scalar (1.0f);
  mact_module_register_parameter (net, "own", other);
  mact_module_register_parameter (net, "own2", other);
  g_autoptr(MactTensor) replaced = mact_tensor_new_scalar (5.0f);
  mact_module_register_parameter (net, "own", replaced);
  g_autoptr(MactTensorDict) sd2 = mact_module_state_dict (net);
  assert_string_equal (mact_tensor_dict_get_key (sd2, 0), "own");
  assert_string_equal (mact_tensor_dict_get_key (sd2, 1), "own2");
  assert_ptr_equal (mact_tensor_dict_get_value (sd2, 0), replaced);
}

static void
test_register_non_leaf (void **state)
{
  g_autoptr(MactModule) m = mact_module_new (MACT_TYPE_MODULE, NULL, NULL);
  g_autoptr(MactTensor) a = mact_tensor_new_scalar (2.0f);
  assert_true (mact_tensor_set_requires_grad (a, TRUE, NULL));
  g_autoptr(MactTensor) computed = mact_mul_scalar (a, 3.0f);
  assert_false (mact_tensor_is_leaf (computed));
  mact_module_register_parameter (m, "p", computed);
  MactTensor *p = mact_module_get_parameter (m, "p");
  /* Detached, sharing the storage, as nn.Parameter(tensor). */
  assert_ptr_not_equal (p, computed);
  assert_true (mact_tensor_is_leaf (p));
  assert_true (mact_tensor_get_requires_grad (p));
  assert_true (mact_tensor_shares_storage (p, computed));
  assert_float_equal (mact_tensor_item (p), 6.0f, 0.0);

  /* Re-adding a child under an existing name replaces it in place. */
  g_autoptr(MactModule) a1 = leaf_new (1);
  g_autoptr(MactModule) b1 = leaf_new (1);
  g_autoptr(MactModule) a2 = leaf_new (1);
  mact_module_add_child (m, "a", a1);
  mact_module_add_child (m, "b", b1);
  mact_module_add_child (m, "a", a2);
  g_auto(GStrv) names = mact_module_list_children (m);
  assert_int_equal (g_strv_length (names), 2);
  assert_string_equal (names[0], "a");
  assert_ptr_equal (mact_module_get_child (m, "a"), a2);
}

static void
test_train_eval (void **state)
{
  g_autoptr(MactModule) net = build_net ();
  MactModule *conv1 = mact_module_get_submodule (net, "layer1.0.conv1", NULL);
  MactModule *relu = mact_module_get_submodule (net, "layer1.1.relu", NULL);
  assert_true (mact_module_is_training (net));
  assert_true (mact_module_is_training (conv1));

  mact_module_eval (net);
  assert_false (mact_module_is_training (net));
  assert_false (mact_module_is_training (conv1));
  assert_false (mact_module_is_training (relu));
  assert_false (mact_module_is_training (mact_module_get_child (net, "head")));

  mact_module_train (net, TRUE);
  assert_true (mact_module_is_training (conv1));
  assert_true (mact_module_is_training (relu));

  /* An override of set_training (norm_eval) is honoured when the parent recurses. */
  TEST_BLOCK (mact_module_get_submodule (net, "layer1.0", NULL))->norm_eval = TRUE;
  mact_module_train (net, TRUE);
  assert_true (mact_module_is_training (net));
  assert_true (mact_module_is_training (mact_module_get_submodule (net, "layer1.0", NULL)));
  assert_false (mact_module_is_training (conv1));
  assert_true (mact_module_is_training (mact_module_get_submodule (net, "layer1.1.conv1",
                                                                   NULL)));
}

static void
test_init_weights_recurses (void **state)
{
  g_autoptr(MactModule) net = build_net ();
  leaf_inits = 0;
  assert_true (mact_module_init_weights (net, NULL, NULL));
  /* stem, the two conv1 and head: the containers recurse by default. */
  assert_int_equal (leaf_inits, 4);
  assert_float_equal (mact_tensor_get_item (mact_module_get_parameter (net,
                        "layer1.1.conv1.weight"), (gint64[]) { 1 }), 3.0f, 0.0);
  g_autoptr(MactGenerator) gen = mact_generator_new (1);
  assert_true (mact_module_init_weights (mact_module_get_child (net, "layer1"), gen, NULL));
  assert_int_equal (leaf_inits, 6);
}

static void
test_replace_child (void **state)
{
  g_autoptr(MactModule) net = build_net ();
  g_autoptr(GError) error = NULL;

  /* mmaction2 turns a torchvision fc into an Identity: its keys disappear, the others
   * keep their order. */
  g_autoptr(MactModule) identity = mact_identity_new ();
  assert_true (mact_module_replace_child (net, "stem", identity, &error));
  assert_null (error);
  assert_ptr_equal (mact_module_get_child (net, "stem"), identity);
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (net);
  assert_int_equal (mact_tensor_dict_get_size (sd), 10);
  assert_string_equal (mact_tensor_dict_get_key (sd, 0), "layer1.0.scale");

  /* Replacing by path keeps the position among siblings. */
  g_autoptr(MactModule) wide = leaf_new (4);
  assert_true (mact_module_replace_child (net, "layer1.0.conv1", wide, &error));
  assert_true (mact_module_replace_child (net, "layer1/0/relu", identity, &error));
  g_autoptr(MactTensorDict) sd2 = mact_module_state_dict (net);
  assert_string_equal (mact_tensor_dict_get_key (sd2, 2), "layer1.0.conv1.weight");
  assert_int_equal (mact_tensor_get_size (mact_tensor_dict_get_value (sd2, 2), 0), 4);
  g_auto(GStrv) names = mact_module_list_children (mact_module_get_child (net, "layer1"));
  assert_string_equal (names[0], "0");
  assert_string_equal (names[1], "1");

  /* Errors: no such child, or a missing module on the path. */
  g_autoptr(MactModule) other = leaf_new (1);
  assert_false (mact_module_replace_child (net, "fc", other, &error));
  assert_non_null (strstr (error->message, "\"fc\""));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NO_SUCH_CHILD);
  assert_false (mact_module_replace_child (net, "layer1.7.conv1", other, &error));
  assert_non_null (strstr (error->message, "\"7\""));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NO_SUCH_CHILD);
  assert_null (mact_module_get_child (net, "fc"));
}

static void
test_submodule_paths (void **state)
{
  g_autoptr(MactModule) net = build_net ();
  g_autoptr(GError) error = NULL;
  MactModule *dotted = mact_module_get_submodule (net, "layer1.1.conv1", &error);
  assert_non_null (dotted);
  assert_true (TEST_IS_LEAF (dotted));
  /* GradCAM's spelling. */
  assert_ptr_equal (mact_module_get_submodule (net, "layer1/1/conv1", &error), dotted);
  assert_ptr_equal (mact_module_get_submodule (net, "", &error), net);
  assert_ptr_equal (mact_module_get_submodule (net, "layer1", &error),
                    mact_module_get_child (net, "layer1"));

  assert_null (mact_module_get_submodule (net, "layer1/2/conv1", &error));
  assert_non_null (strstr (error->message, "\"2\""));
  assert_non_null (strstr (error->message, "layer1"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NO_SUCH_CHILD);
  assert_null (mact_module_get_submodule (net, "layer4", &error));
  assert_non_null (strstr (error->message, "\"layer4\""));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NO_SUCH_CHILD);
  assert_null (mact_module_get_submodule (net, "layer1.0.conv1.deeper", &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NO_SUCH_CHILD);
}

typedef struct {
  guint       calls;
  MactModule *module;
  MactTensor *input;     /* borrowed pointers seen by the last call */
  MactTensor *output;
  guint       n_outputs;
  gint        order;
  gint       *clock;
} HookLog;

static void
record_hook (MactModule *module, GPtrArray *inputs, GPtrArray *outputs, gpointer user_data)
{
  HookLog *log = user_data;
  log->calls++;
  log->module = module;
  log->input = inputs->len > 0 ? g_ptr_array_index (inputs, 0) : NULL;
  log->output = outputs->len > 0 ? g_ptr_array_index (outputs, 0) : NULL;
  log->n_outputs = outputs->len;
  if (log->clock != NULL)
    log->order = (*log->clock)++;
}

static guint destroyed;

static void
count_destroy (gpointer data)
{
  destroyed++;
}

static void
test_forward_hooks (void **state)
{
  g_autoptr(MactModule) net = build_net ();
  MactModule *layer1 = mact_module_get_child (net, "layer1");
  MactModule *relu = mact_module_get_submodule (net, "layer1/0/relu", NULL);
  MactModule *conv1 = mact_module_get_submodule (net, "layer1.0.conv1", NULL);
  gint clock = 0;
  HookLog on_relu = { .clock = &clock }, on_layer = { .clock = &clock };
  HookLog on_conv_a = { .clock = &clock }, on_conv_b = { .clock = &clock };
  destroyed = 0;
  gulong id_relu = mact_module_add_forward_hook (relu, record_hook, &on_relu, count_destroy);
  gulong id_layer = mact_module_add_forward_hook (layer1, record_hook, &on_layer, NULL);
  gulong id_a = mact_module_add_forward_hook (conv1, record_hook, &on_conv_a, NULL);
  gulong id_b = mact_module_add_forward_hook (conv1, record_hook, &on_conv_b, count_destroy);
  assert_true (id_relu != 0 && id_a != id_b);

  const float xs[] = { -1.0f, 2.0f, 3.0f, -4.0f };
  g_autoptr(MactTensor) x = mact_tensor_new_from_data (xs, 4, 2, (gint64[]) { 2, 2 }, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) y = mact_module_forward1 (layer1, x, &error);
  assert_non_null (y);

  /* Each block: relu(x * 1) * 2, so layer1 gives relu(x) * 4. */
  const float expected[] = { 0.0f, 8.0f, 12.0f, 0.0f };
  g_autoptr(MactTensor) want = mact_tensor_new_from_data (expected, 4, 2,
                                                          (gint64[]) { 2, 2 }, NULL);
  mact_test_assert_close (y, want, 0.0, "layer1 output");

  /* The hooks saw the very tensors that flowed. */
  assert_int_equal (on_conv_a.calls, 1);
  assert_ptr_equal (on_conv_a.module, conv1);
  assert_ptr_equal (on_conv_a.input, x);
  assert_int_equal (on_conv_a.n_outputs, 1);
  assert_int_equal (on_relu.calls, 1);
  assert_ptr_equal (on_relu.input, on_conv_a.output);
  const float relu_expected[] = { 0.0f, 2.0f, 3.0f, 0.0f };
  g_autoptr(MactTensor) relu_want = mact_tensor_new_from_data (relu_expected, 4, 2,
                                                               (gint64[]) { 2, 2 }, NULL);
  mact_test_assert_close (on_relu.output, relu_want, 0.0, "relu activation");
  assert_int_equal (on_layer.calls, 1);
  assert_ptr_equal (on_layer.output, y);
  /* Order: conv1's hooks in the order added, then relu, then the whole layer last. */
  assert_true (on_conv_a.order < on_conv_b.order);
  assert_true (on_conv_b.order < on_relu.order);
  assert_true (on_relu.order < on_layer.order);

  /* Removal frees the data once; a stale id is ignored. */
  mact_module_remove_forward_hook (relu, id_relu);
  assert_int_equal (destroyed, 1);
  mact_module_remove_forward_hook (relu, id_relu);
  assert_int_equal (destroyed, 1);
  mact_module_remove_forward_hook (layer1, id_layer);
  mact_module_remove_forward_hook (conv1, id_a);
  g_autoptr(MactTensor) y2 = mact_module_forward1 (layer1, x, &error);
  assert_non_null (y2);
  assert_int_equal (on_relu.calls, 1);
  assert_int_equal (on_layer.calls, 1);
  assert_int_equal (on_conv_a.calls, 1);
  assert_int_equal (on_conv_b.calls, 2);

  /* The remaining hook's data is freed with the module. */
  g_clear_object (&net);
  assert_int_equal (destroyed, 2);
}

static void
test_set_parameter (void **state)
{
  g_autoptr(MactModule) net = build_net ();
  g_autoptr(GError) error = NULL;
  const float vals[] = { 0.5f, -0.5f };
  g_autoptr(MactTensor) w = mact_tensor_new_from_data (vals, 2, 1, (gint64[]) { 2 }, NULL);

  assert_true (mact_module_set_parameter (net, "layer1.0.conv1.weight", w, &error));
  assert_null (error);
  /* Shared, not copied; a trainable leaf. */
  assert_ptr_equal (mact_module_get_parameter (net, "layer1.0.conv1.weight"), w);
  assert_true (mact_tensor_get_requires_grad (w));
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (net);
  assert_ptr_equal (mact_tensor_dict_lookup (sd, "layer1.0.conv1.weight"), w);

  /* A frozen parameter stays frozen when replaced. */
  MactTensor *stem_w = mact_module_get_parameter (net, "stem.weight");
  assert_true (mact_tensor_set_requires_grad (stem_w, FALSE, NULL));
  g_autoptr(MactTensor) w2 = mact_tensor_new_from_data (vals, 2, 1, (gint64[]) { 2 }, NULL);
  assert_true (mact_module_set_parameter (mact_module_get_child (net, "stem"), "weight", w2,
                                          &error));
  assert_false (mact_tensor_get_requires_grad (w2));

  /* Buffers load the same way (checkpoints hold running statistics). */
  g_autoptr(MactTensor) mean = mact_tensor_new_from_data (vals, 2, 1, (gint64[]) { 2 },
                                                          NULL);
  assert_true (mact_module_set_parameter (net, "stem.running_mean", mean, &error));
  assert_ptr_equal (mact_module_get_buffer (net, "stem.running_mean"), mean);
  assert_false (mact_tensor_get_requires_grad (mean));

  /* Shape mismatch: the message names the key and both shapes. */
  g_autoptr(MactTensor) bad = mact_tensor_new (2, (gint64[]) { 3, 1 }, NULL);
  assert_false (mact_module_set_parameter (net, "head.weight", bad, &error));
  assert_non_null (strstr (error->message, "head.weight"));
  assert_non_null (strstr (error->message, "[3]"));
  assert_non_null (strstr (error->message, "[3, 1]"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_ptr_not_equal (mact_module_get_parameter (net, "head.weight"), bad);

  /* Unknown names, a missing module on the path, a parameter built as absent. */
  assert_false (mact_module_set_parameter (net, "head.gamma", w, &error));
  assert_non_null (strstr (error->message, "gamma"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NO_SUCH_CHILD);
  assert_false (mact_module_set_parameter (net, "neck.weight", w, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NO_SUCH_CHILD);
  assert_false (mact_module_set_parameter (net, "stem.bias", w, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NO_SUCH_CHILD);
}

static void
test_double_init (void **state)
{
  g_autoptr(GError) error = NULL;
  leaf_builds = 0;
  g_autoptr(MactModule) m = mact_module_new (TEST_TYPE_LEAF, &error, "features", 3, NULL);
  assert_non_null (m);
  assert_int_equal (leaf_builds, 1);
  MactTensor *w = mact_module_get_parameter (m, "weight");
  /* A second init returns the first result and builds nothing. */
  assert_true (g_initable_init (G_INITABLE (m), NULL, &error));
  assert_int_equal (leaf_builds, 1);
  assert_ptr_equal (mact_module_get_parameter (m, "weight"), w);

  /* A failed build fails again with the same error, without building again. */
  g_autoptr(GObject) bad = g_object_new (TEST_TYPE_LEAF, "fail", TRUE, "features", 5, NULL);
  assert_false (g_initable_init (G_INITABLE (bad), NULL, &error));
  assert_string_equal (error->message, "TestLeaf: features 5 rejected");
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_false (g_initable_init (G_INITABLE (bad), NULL, &error));
  assert_string_equal (error->message, "TestLeaf: features 5 rejected");
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_int_equal (leaf_builds, 2);

  /* A build that fails without saying why still gives an error. */
  g_autoptr(MactModule) silent = mact_module_new (TEST_TYPE_LEAF, &error,
                                                  "fail-silently", TRUE, NULL);
  assert_null (silent);
  assert_non_null (strstr (error->message, "TestLeaf"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
}

static void
test_new_with_properties (void **state)
{
  g_autoptr(GError) error = NULL;
  const char *names[] = { "features" };
  GValue values[1] = { G_VALUE_INIT };
  g_value_init (&values[0], G_TYPE_INT);
  g_value_set_int (&values[0], 4);
  g_autoptr(MactModule) m = mact_module_new_with_properties (TEST_TYPE_LEAF, 1, names,
                                                             values, &error);
  assert_non_null (m);
  assert_int_equal (mact_tensor_get_size (mact_module_get_parameter (m, "weight"), 0), 4);

  /* Failure: NULL and the build's error, nothing leaked (checked under valgrind). */
  const char *names2[] = { "features", "fail" };
  GValue values2[2] = { G_VALUE_INIT, G_VALUE_INIT };
  g_value_init (&values2[0], G_TYPE_INT);
  g_value_set_int (&values2[0], 2);
  g_value_init (&values2[1], G_TYPE_BOOLEAN);
  g_value_set_boolean (&values2[1], TRUE);
  g_autoptr(MactModule) failed = mact_module_new_with_properties (TEST_TYPE_LEAF, 2, names2,
                                                                  values2, &error);
  assert_null (failed);
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  g_value_unset (&values[0]);
  g_value_unset (&values2[0]);
  g_value_unset (&values2[1]);

  g_autoptr(MactModule) failed2 = mact_module_new (TEST_TYPE_LEAF, &error, "fail", TRUE, NULL);
  assert_null (failed2);
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
}

static void
test_forward_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) x = mact_tensor_new_full (1, (gint64[]) { 2 }, 1.0f, NULL);

  /* A bare container has no forward. */
  g_autoptr(MactModule) bare = mact_module_new (MACT_TYPE_MODULE, &error, NULL);
  assert_null (mact_module_forward1 (bare, x, &error));
  assert_non_null (strstr (error->message, "MactModule"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED);

  /* forward1 needs exactly one output. */
  g_autoptr(MactModule) split = mact_module_new (TEST_TYPE_SPLIT, &error, NULL);
  g_autoptr(GPtrArray) both = NULL;
  {
    g_autoptr(GPtrArray) in = g_ptr_array_new ();
    g_ptr_array_add (in, x);
    both = mact_module_forward (split, in, &error);
  }
  assert_non_null (both);
  assert_int_equal (both->len, 2);
  assert_null (mact_module_forward1 (split, x, &error));
  assert_non_null (strstr (error->message, "got 2"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);

  /* A block's own input check. */
  g_autoptr(MactModule) leaf = leaf_new (2);
  g_autoptr(GPtrArray) two = g_ptr_array_new ();
  g_ptr_array_add (two, x);
  g_ptr_array_add (two, x);
  assert_null (mact_module_forward (leaf, two, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
}

static void
test_zero_grad (void **state)
{
  g_autoptr(MactModule) net = build_net ();
  MactModule *layer1 = mact_module_get_child (net, "layer1");
  g_autoptr(MactTensor) x = mact_tensor_new_full (2, (gint64[]) { 3, 2 }, 1.0f, NULL);
  g_autoptr(MactTensor) y = mact_module_forward1 (layer1, x, NULL);
  g_autoptr(MactTensor) loss = mact_sum_all (y);
  g_autoptr(GError) error = NULL;
  assert_true (mact_tensor_backward (loss, NULL, &error));
  g_autoptr(GPtrArray) params = mact_module_parameters (layer1);
  assert_int_equal (params->len, 4);
  for (guint i = 0; i < params->len; i++)
    assert_non_null (mact_tensor_get_grad (g_ptr_array_index (params, i)));
  /* d(sum)/d(layer1.1.scale) = sum(relu(x * 1) * 2 * 1) = 6 * 2 = 12 */
  assert_float_equal (mact_tensor_item (mact_tensor_get_grad (
    mact_module_get_parameter (layer1, "1.scale"))), 12.0f, 1e-5);

  mact_module_zero_grad (net);
  for (guint i = 0; i < params->len; i++)
    assert_null (mact_tensor_get_grad (g_ptr_array_index (params, i)));
}

static void
test_int_tuple (void **state)
{
  g_autoptr(GError) error = NULL;
  gint out[3] = { 0 };
  const gint64 three[] = { 1, 2, 3 };
  g_autoptr(GVariant) t3 = g_variant_ref_sink (mact_int_tuple_new (3, three));
  assert_true (g_variant_is_of_type (t3, G_VARIANT_TYPE ("ax")));
  assert_true (mact_int_tuple_get (t3, 3, out, "Conv3d: stride", &error));
  assert_int_equal (out[0], 1);
  assert_int_equal (out[2], 3);

  /* One value broadcasts, as PyTorch's _triple(int). */
  const gint64 seven = 7;
  g_autoptr(GVariant) t1 = g_variant_ref_sink (mact_int_tuple_new (1, &seven));
  assert_true (mact_int_tuple_get (t1, 3, out, "Conv3d: stride", &error));
  assert_int_equal (out[0], 7);
  assert_int_equal (out[1], 7);
  assert_int_equal (out[2], 7);
  g_autoptr(GVariant) empty = g_variant_ref_sink (mact_int_tuple_new (0, NULL));
  assert_true (mact_int_tuple_get (empty, 0, NULL, "nothing", &error));

  /* Errors name `what`. */
  assert_false (mact_int_tuple_get (t3, 2, out, "Conv2d: padding", &error));
  assert_non_null (strstr (error->message, "Conv2d: padding"));
  assert_non_null (strstr (error->message, "got 3"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_false (mact_int_tuple_get (empty, 2, out, "Conv2d: padding", &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_false (mact_int_tuple_get (t3, 1, out, "Linear: size", &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_false (mact_int_tuple_get (NULL, 2, out, "MaxPool2d: kernel_size", &error));
  assert_non_null (strstr (error->message, "MaxPool2d: kernel_size"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  const gint64 huge[] = { 1, (gint64) G_MAXINT + 1 };
  g_autoptr(GVariant) big = g_variant_ref_sink (mact_int_tuple_new (2, huge));
  assert_false (mact_int_tuple_get (big, 2, out, "Conv2d: stride", &error));
  assert_non_null (strstr (error->message, "2147483648"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  const gint64 tiny[] = { (gint64) G_MININT - 1 };
  g_autoptr(GVariant) small = g_variant_ref_sink (mact_int_tuple_new (1, tiny));
  assert_false (mact_int_tuple_get (small, 2, out, "Conv2d: stride", &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  g_autoptr(GVariant) wrong = g_variant_ref_sink (g_variant_new_int32 (3));
  assert_false (mact_int_tuple_get (wrong, 2, out, "Conv2d: stride", &error));
  assert_non_null (strstr (error->message, "type i"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_state_dict_order),
    cmocka_unit_test (test_named_parameters),
    cmocka_unit_test (test_register_non_leaf),
    cmocka_unit_test (test_train_eval),
    cmocka_unit_test (test_init_weights_recurses),
    cmocka_unit_test (test_replace_child),
    cmocka_unit_test (test_submodule_paths),
    cmocka_unit_test (test_forward_hooks),
    cmocka_unit_test (test_set_parameter),
    cmocka_unit_test (test_double_init),
    cmocka_unit_test (test_new_with_properties),
    cmocka_unit_test (test_forward_errors),
    cmocka_unit_test (test_zero_grad),
    cmocka_unit_test (test_int_tuple),
  };
  return cmocka_run_group_tests_name ("module", tests, NULL, NULL);
}
