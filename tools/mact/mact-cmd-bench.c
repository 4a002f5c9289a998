/* mact-cmd-bench.c: `mact bench CONFIG`, the latency and throughput of a recognizer: the
 * numbers the performance work is measured by (benchmarks/run.py compares them with
 * PyTorch's).
 *
 * For each input shape: one cold run, --warmup untimed ones, then --iters timed ones.  A
 * run is forward_test without autograd, or with --train one training step as `mact train`
 * takes it (forward_train and parse_losses, backward, an SGD step).  Reported: the median
 * latency (and min, max), throughput in clips/s (N * V views per run: clips for 3D
 * recognizers, frames or segments for 2D ones) and samples/s, and once, the time to the
 * first result (from the start of the command: reading the config and the input, building
 * the model and loading its weights, the first run; with --weights the model skips its
 * random initialisation and uses the mapped safetensors file in place, so the build and
 * load take milliseconds and the first run pays for bringing the weights in).
 * The input is random, or an .npy array (--input) so that another framework can be given
 * exactly the same; without either --shape or --input the shape is the one the config's
 * test pipeline gives for a random clip of 64 frames of 240x320 (the time that takes is
 * left out of the time to the first result).
 *
 * --profile splits the timed runs' time among the modules, through forward hooks: modules
 * run one after another (the parallelism is inside the kernels), so the time between one
 * hook and the next belongs to the module whose hook fires second.  For a leaf that is its
 * own work; for a parent it is what the parent computes after its last child (a residual
 * block's sum, when the ReLU after it is not a child).  What a parent does before its
 * first child is counted with that child, and what the recognizer does outside any module
 * (reshapes, the head's consensus, average_clip) is a row of its own. */
#include "mact-cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  gint   ndim;
  gint64 shape[MACT_MAX_DIMS];
} Shape;

static gboolean
parse_shape (const char *text, Shape *out, GError **error)
{
  g_auto(GStrv) parts = g_strsplit (text, ",", -1);
  const guint n = g_strv_length (parts);
  if (n < 2 || n > MACT_MAX_DIMS)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--shape '%s': expected 2 to %d comma-separated sizes "
                   "(N,V,C,H,W for 2D recognizers, N,V,C,T,H,W for 3D)", text, MACT_MAX_DIMS);
      return FALSE;
    }
  out->ndim = (gint) n;
  for (guint i = 0; i < n; i++)
    {
      guint64 v;
      if (!g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, 1, 1 << 20, &v, NULL))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--shape '%s': '%s' is not a positive size", text, parts[i]);
          return FALSE;
        }
      out->shape[i] = (gint64) v;
    }
  return TRUE;
}

static char *
shape_text (const Shape *s)
{
  GString *str = g_string_new (NULL);
  for (gint i = 0; i < s->ndim; i++)
    g_string_append_printf (str, "%s%" G_GINT64_FORMAT, i ? "," : "", s->shape[i]);
  return g_string_free (str, FALSE);
}

/* The test pipeline's output for a random 64-frame 240x320 clip, with a batch of one. */
static gboolean
shape_from_pipeline (JsonNode *config, Shape *out, GError **error)
{
  JsonNode *pipeline_cfg = mact_inference_find_test_pipeline (config, error);
  if (pipeline_cfg == NULL)
    return FALSE;
  g_autoptr(MactPipeline) pipeline = mact_pipeline_new_from_config (pipeline_cfg, error);
  if (pipeline == NULL)
    return FALSE;
  const gint64 frames_shape[] = { 64, 240, 320, 3 };
  g_autoptr(MactTensor) frames = mact_tensor_new_empty (4, frames_shape, error);
  if (frames == NULL)
    return FALSE;
  g_autoptr(MactGenerator) rng = mact_generator_new (0);
  mact_tensor_uniform_ (frames, rng, 0.0, 255.0);
  g_autoptr(MactTensorDict) result = mact_pipeline_run_array (pipeline, frames, NULL, rng,
                                                              error);
  if (result == NULL)
    return FALSE;
  MactTensor *imgs = mact_tensor_dict_lookup (result, "imgs");
  if (imgs == NULL || mact_tensor_get_ndim (imgs) + 1 > MACT_MAX_DIMS)
    {
      g_set_error_literal (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID,
                           "the test pipeline gives no usable \"imgs\"");
      return FALSE;
    }
  gint nd;
  const gint64 *shape = mact_tensor_get_shape (imgs, &nd);
  out->ndim = nd + 1;
  out->shape[0] = 1;
  memcpy (out->shape + 1, shape, nd * sizeof (gint64));
  return TRUE;
}

static int
compare_doubles (const void *a, const void *b)
{
  const double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
now_ms (void)
{
  return g_get_monotonic_time () / 1000.0;
}

/* ------------------------------------------------------------------ profile */

typedef struct _Profiler Profiler;

/* The time attributed to one module (or to something outside the modules). */
typedef struct {
  Profiler   *profiler;
  MactModule *module;     /* owned; NULL for the rows outside the module tree */
  gulong      hook_id;
  char       *path;       /* "backbone.layer1.0.conv1", or a description in parentheses */
  char       *type;
  char       *detail;     /* a conv's kernel, stride and channels, an activation's kind */
  char       *group;      /* what the by-type table sums over: type, with a conv's kernel */
  gboolean    leaf;
  gint64      us;         /* summed over the timed runs */
  gint64      calls;
} ProfileRow;

struct _Profiler {
  GPtrArray  *rows;       /* ProfileRow, the module tree in order, then the extra rows */
  ProfileRow *outside;    /* the recognizer's own work in the forward pass */
  ProfileRow *backward;   /* --train only */
  ProfileRow *step;       /* --train only: zero_grad and the optimizer's step */
  gint64      last;       /* when the previous hook fired, in microseconds */
  gboolean    active;     /* only the timed runs count */
};

static void
profile_row_free (gpointer data)
{
  ProfileRow *row = data;
  if (row->module != NULL)
    {
      mact_module_remove_forward_hook (row->module, row->hook_id);
      g_object_unref (row->module);
    }
  g_free (row->path);
  g_free (row->type);
  g_free (row->detail);
  g_free (row->group);
  g_free (row);
}

static ProfileRow *
profiler_add_row (Profiler *p, const char *path, const char *type, gboolean leaf)
{
  ProfileRow *row = g_new0 (ProfileRow, 1);
  row->profiler = p;
  row->path = g_strdup (path);
  row->type = g_strdup (type);
  row->detail = g_strdup ("");
  row->group = g_strdup (type);
  row->leaf = leaf;
  g_ptr_array_add (p->rows, row);
  return row;
}

/* The value of an int property @name of @object, or -1 when it has none. */
static gint
int_property (GObject *object, const char *name)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (object), name);
  gint v = -1;
  if (pspec != NULL && pspec->value_type == G_TYPE_INT)
    g_object_get (object, name, &v, NULL);
  return v;
}

/* An integer-tuple property ("kernel-size") as "3x3x3", or NULL. */
static char *
tuple_property (GObject *object, const char *name)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (object), name);
  if (pspec == NULL || pspec->value_type != G_TYPE_VARIANT)
    return NULL;
  g_autoptr(GVariant) v = NULL;
  g_object_get (object, name, &v, NULL);
  if (v == NULL || !g_variant_is_of_type (v, G_VARIANT_TYPE ("ax")))
    return NULL;
  GString *out = g_string_new (NULL);
  for (gsize i = 0; i < g_variant_n_children (v); i++)
    {
      gint64 x;
      g_variant_get_child (v, i, "x", &x);
      g_string_append_printf (out, "%s%" G_GINT64_FORMAT, i ? "x" : "", x);
    }
  return g_string_free (out, FALSE);
}

/* What kind of work a module does, from its properties (so that any plugin's layers are
 * described as the core's are): a convolution's kernel, stride, groups and channels,
 * an activation's kind. */
static void
describe_module (MactModule *module, char **detail, char **group)
{
  GObject *object = G_OBJECT (module);
  const char *type = G_OBJECT_TYPE_NAME (module);
  g_autofree char *kernel = tuple_property (object, "kernel-size");
  if (kernel != NULL)
    {
      g_autofree char *stride = tuple_property (object, "stride");
      const gint cin = int_property (object, "in-channels");
      const gint cout = int_property (object, "out-channels");
      const gint groups = int_property (object, "groups");
      const gboolean depthwise = groups > 1 && groups == cin;
      g_autofree char *grouping = depthwise ? g_strdup (" depthwise")
                                  : groups > 1 ? g_strdup_printf (" groups %d", groups)
                                  : g_strdup ("");
      g_autofree char *channels = cin > 0 && cout > 0 ? g_strdup_printf (" %d>%d", cin, cout)
                                                      : g_strdup ("");
      *detail = g_strdup_printf ("%s/%s%s%s", kernel, stride ? stride : "?", grouping,
                                 channels);
      *group = g_strdup_printf ("%s %s%s", type, kernel, grouping);
      return;
    }
  GParamSpec *kind = g_object_class_find_property (G_OBJECT_GET_CLASS (object), "kind");
  if (kind != NULL && G_TYPE_IS_ENUM (kind->value_type))
    {
      g_auto(GValue) value = G_VALUE_INIT;
      g_value_init (&value, kind->value_type);
      g_object_get_property (object, "kind", &value);
      GEnumClass *enum_class = g_type_class_ref (kind->value_type);
      const GEnumValue *ev = g_enum_get_value (enum_class, g_value_get_enum (&value));
      const gboolean named = ev != NULL;
      if (named)
        {
          *detail = g_strdup (ev->value_nick);
          *group = g_strdup_printf ("%s %s", type, ev->value_nick);
        }
      g_type_class_unref (enum_class);
      if (named)
        return;
    }
  *detail = g_strdup ("");
  *group = g_strdup (type);
}

static void
profile_hook (MactModule *module, GPtrArray *inputs, GPtrArray *outputs, gpointer user_data)
{
  ProfileRow *row = user_data;
  Profiler *p = row->profiler;
  const gint64 now = g_get_monotonic_time ();
  if (p->active)
    {
      row->us += now - p->last;
      row->calls++;
    }
  p->last = now;
}

/* Hooks every module under @module (not @module itself: the recognizer's forward_test is
 * no module forward, so its hook would never fire). */
static void
profiler_add_tree (Profiler *p, MactModule *module, const char *path, GHashTable *seen)
{
  g_auto(GStrv) children = mact_module_list_children (module);
  for (guint i = 0; children != NULL && children[i] != NULL; i++)
    {
      MactModule *child = mact_module_get_child (module, children[i]);
      /* A module shared under two names would have its time counted twice. */
      if (child == NULL || !g_hash_table_add (seen, child))
        continue;
      g_autofree char *child_path = path[0] != '\0'
                                    ? g_strconcat (path, ".", children[i], NULL)
                                    : g_strdup (children[i]);
      g_auto(GStrv) grandchildren = mact_module_list_children (child);
      const gboolean leaf = grandchildren == NULL || grandchildren[0] == NULL;
      ProfileRow *row = profiler_add_row (p, child_path, G_OBJECT_TYPE_NAME (child), leaf);
      g_free (row->detail);
      g_free (row->group);
      describe_module (child, &row->detail, &row->group);
      if (!leaf)
        {
          /* A parent's row is only its own work after its children. */
          g_free (row->group);
          row->group = g_strconcat (row->type, " (own)", NULL);
        }
      row->module = g_object_ref (child);
      row->hook_id = mact_module_add_forward_hook (child, profile_hook, row, NULL);
      profiler_add_tree (p, child, child_path, seen);
    }
}

static Profiler *
profiler_new (MactRecognizer *recognizer, gboolean train)
{
  Profiler *p = g_new0 (Profiler, 1);
  p->rows = g_ptr_array_new_with_free_func (profile_row_free);
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  profiler_add_tree (p, MACT_MODULE (recognizer), "", seen);
  p->outside = profiler_add_row (p, train ? "(forward outside modules, loss)"
                                          : "(outside modules)",
                                 G_OBJECT_TYPE_NAME (recognizer), TRUE);
  if (train)
    {
      p->backward = profiler_add_row (p, "(backward)", "autograd", TRUE);
      p->step = profiler_add_row (p, "(optimizer zero_grad and step)", "MactSGD", TRUE);
    }
  return p;
}

static void
profiler_free (Profiler *p)
{
  g_ptr_array_unref (p->rows);
  g_free (p);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Profiler, profiler_free)

static void
profiler_reset (Profiler *p)
{
  for (guint i = 0; i < p->rows->len; i++)
    {
      ProfileRow *row = g_ptr_array_index (p->rows, i);
      row->us = 0;
      row->calls = 0;
    }
}

/* Brackets a forward pass: what follows the last hook is the recognizer's own. */
static void
profiler_begin (Profiler *p, gboolean timed)
{
  if (p == NULL)
    return;
  p->active = timed;
  p->last = g_get_monotonic_time ();
}

static void
profiler_end (Profiler *p, ProfileRow *row)
{
  if (p == NULL)
    return;
  const gint64 now = g_get_monotonic_time ();
  if (p->active)
    {
      row->us += now - p->last;
      row->calls++;
    }
  p->last = now;
}

static int
compare_rows (gconstpointer a, gconstpointer b)
{
  const ProfileRow *x = *(ProfileRow *const *) a, *y = *(ProfileRow *const *) b;
  return (x->us < y->us) - (x->us > y->us);
}

/* The rows, largest first, in an array that does not own them. */
static GPtrArray *
sorted_rows (GPtrArray *rows)
{
  GPtrArray *sorted = g_ptr_array_sized_new (rows->len);
  for (guint i = 0; i < rows->len; i++)
    g_ptr_array_add (sorted, g_ptr_array_index (rows, i));
  g_ptr_array_sort (sorted, compare_rows);
  return sorted;
}

/* The time of each kind of work: leaves by their type (convolutions by type and kernel
 * as well), a parent's own work as "TYPE (own)". */
static GPtrArray *
profile_by_type (GPtrArray *rows)
{
  g_autoptr(GHashTable) index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                        NULL);
  GPtrArray *types = g_ptr_array_new_with_free_func (profile_row_free);
  for (guint i = 0; i < rows->len; i++)
    {
      const ProfileRow *row = g_ptr_array_index (rows, i);
      if (row->calls == 0)
        continue;
      ProfileRow *t = g_hash_table_lookup (index, row->group);
      if (t == NULL)
        {
          t = g_new0 (ProfileRow, 1);
          t->group = g_strdup (row->group);
          t->leaf = row->leaf;
          g_ptr_array_add (types, t);
          g_hash_table_insert (index, g_strdup (row->group), t);
        }
      t->us += row->us;
      t->calls += row->calls;
    }
  g_ptr_array_sort (types, compare_rows);
  return types;
}

/* The share below which rows of the text table are summed into one line; --json lists
 * them all. */
#define PROFILE_TEXT_MIN_PERCENT 0.1

/* A row's type as the tables show it: a parent's row is its own work only. */
static char *
row_type (const ProfileRow *row)
{
  return row->leaf ? g_strdup (row->type) : g_strconcat (row->type, " (own)", NULL);
}

static void
profile_print (Profiler *p, gint runs, double median_ms)
{
  g_autoptr(GPtrArray) rows = sorted_rows (p->rows);
  gint64 total_us = 0;
  int path_w = (int) strlen ("module"), type_w = (int) strlen ("type");
  int detail_w = (int) strlen ("kernel/stride");
  for (guint i = 0; i < rows->len; i++)
    {
      const ProfileRow *row = g_ptr_array_index (rows, i);
      g_autofree char *type = row_type (row);
      total_us += row->us;
      path_w = MAX (path_w, (int) strlen (row->path));
      type_w = MAX (type_w, (int) strlen (type));
      detail_w = MAX (detail_w, (int) strlen (row->detail));
    }
  const double total = MAX (total_us, 1) / 1000.0 / runs;
  printf ("profile: %.3f ms per run in total (the median run: %.3f ms), %d runs\n", total,
          median_ms, runs);
  printf ("  %-*s  %-*s  %-*s %10s %7s %6s\n", path_w, "module", type_w, "type", detail_w,
          "kernel/stride", "ms/run", "%", "calls");
  guint hidden = 0;
  double hidden_ms = 0;
  for (guint i = 0; i < rows->len; i++)
    {
      const ProfileRow *row = g_ptr_array_index (rows, i);
      if (row->calls == 0)
        continue;
      const double ms = row->us / 1000.0 / runs;
      const double percent = 100.0 * ms / total;
      if (percent < PROFILE_TEXT_MIN_PERCENT)
        {
          hidden++;
          hidden_ms += ms;
          continue;
        }
      g_autofree char *type = row_type (row);
      printf ("  %-*s  %-*s  %-*s %10.3f %6.2f%% %6.3g\n", path_w, row->path, type_w, type,
              detail_w, row->detail, ms, percent, (double) row->calls / runs);
    }
  if (hidden > 0)
    printf ("  (%u more, each below %.1f%%: %.3f ms, %.2f%%)\n", hidden,
            PROFILE_TEXT_MIN_PERCENT, hidden_ms, 100.0 * hidden_ms / total);

  g_autoptr(GPtrArray) groups = profile_by_type (p->rows);
  int group_w = (int) strlen ("by type");
  for (guint i = 0; i < groups->len; i++)
    group_w = MAX (group_w, (int) strlen (((ProfileRow *) g_ptr_array_index (groups, i))->group));
  printf ("  %-*s %10s %7s %6s\n", group_w, "by type", "ms/run", "%", "calls");
  for (guint i = 0; i < groups->len; i++)
    {
      const ProfileRow *t = g_ptr_array_index (groups, i);
      const double ms = t->us / 1000.0 / runs;
      printf ("  %-*s %10.3f %6.2f%% %6.3g\n", group_w, t->group, ms, 100.0 * ms / total,
              (double) t->calls / runs);
    }
}

static void
profile_to_json (Profiler *p, gint runs, JsonObject *result)
{
  g_autoptr(GPtrArray) rows = sorted_rows (p->rows);
  gint64 total_us = 0;
  for (guint i = 0; i < rows->len; i++)
    total_us += ((ProfileRow *) g_ptr_array_index (rows, i))->us;
  const double total = MAX (total_us, 1) / 1000.0 / runs;
  json_object_set_double_member (result, "profile_total_ms", total);

  JsonArray *array = json_array_new ();
  for (guint i = 0; i < rows->len; i++)
    {
      const ProfileRow *row = g_ptr_array_index (rows, i);
      if (row->calls == 0)
        continue;
      const double ms = row->us / 1000.0 / runs;
      JsonObject *o = json_object_new ();
      json_object_set_string_member (o, "module", row->path);
      json_object_set_string_member (o, "type", row->type);
      json_object_set_string_member (o, "detail", row->detail);
      json_object_set_boolean_member (o, "leaf", row->leaf);
      json_object_set_double_member (o, "ms_per_run", ms);
      json_object_set_double_member (o, "percent", 100.0 * ms / total);
      json_object_set_double_member (o, "calls_per_run", (double) row->calls / runs);
      json_array_add_object_element (array, o);
    }
  json_object_set_array_member (result, "profile", array);

  g_autoptr(GPtrArray) groups = profile_by_type (p->rows);
  JsonArray *by_type = json_array_new ();
  for (guint i = 0; i < groups->len; i++)
    {
      const ProfileRow *t = g_ptr_array_index (groups, i);
      const double ms = t->us / 1000.0 / runs;
      JsonObject *o = json_object_new ();
      json_object_set_string_member (o, "type", t->group);
      json_object_set_double_member (o, "ms_per_run", ms);
      json_object_set_double_member (o, "percent", 100.0 * ms / total);
      json_object_set_double_member (o, "calls_per_run", (double) t->calls / runs);
      json_array_add_object_element (by_type, o);
    }
  json_object_set_array_member (result, "profile_by_type", by_type);
}

/* ------------------------------------------------------------------ one run */

typedef struct {
  MactRecognizer *recognizer;
  MactTensor     *input;
  MactTensorDict *batch;      /* --train: imgs and label */
  MactOptimizer  *optimizer;  /* --train */
  Profiler       *profiler;   /* --profile, else NULL */
} Run;

static gboolean
run_inference (Run *r, gboolean timed, GError **error)
{
  g_autoptr(MactTensor) scores = NULL;
  profiler_begin (r->profiler, timed);
  MACT_NO_GRAD_BEGIN;
  scores = mact_recognizer_forward_test (r->recognizer, r->input, error);
  MACT_NO_GRAD_END;
  if (r->profiler != NULL)
    profiler_end (r->profiler, r->profiler->outside);
  return scores != NULL;
}

/* One iteration of `mact train` (MactRunner's epoch loop) without the data loader. */
static gboolean
run_train_step (Run *r, gboolean timed, GError **error)
{
  profiler_begin (r->profiler, timed);
  mact_optimizer_zero_grad (r->optimizer);
  if (r->profiler != NULL)
    profiler_end (r->profiler, r->profiler->step);
  g_autoptr(MactTensor) loss = NULL;
  g_autoptr(MactTensorDict) log_vars = NULL;
  if (!mact_recognizer_train_step (r->recognizer, r->batch, &loss, &log_vars, NULL, error))
    return FALSE;
  /* The runner reads every logged value, as mmaction2's parse_losses calls item(). */
  for (guint i = 0; i < mact_tensor_dict_get_size (log_vars); i++)
    (void) mact_tensor_item (mact_tensor_dict_get_value (log_vars, i));
  if (r->profiler != NULL)
    profiler_end (r->profiler, r->profiler->outside);
  if (!mact_tensor_backward (loss, NULL, error))
    return FALSE;
  if (r->profiler != NULL)
    profiler_end (r->profiler, r->profiler->backward);
  if (!mact_optimizer_step (r->optimizer, error))
    return FALSE;
  if (r->profiler != NULL)
    profiler_end (r->profiler, r->profiler->step);
  return TRUE;
}

/* Random integer labels [N, 1] below the head's class count, as the data loader collates
 * them. */
static MactTensor *
random_labels (MactRecognizer *recognizer, gint64 batch, MactGenerator *rng, GError **error)
{
  MactHead *head = mact_recognizer_get_cls_head (recognizer);
  if (head == NULL || mact_head_get_num_classes (head) <= 0)
    {
      g_set_error_literal (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_KEY,
                           "--train needs a cls_head with num_classes");
      return NULL;
    }
  const gint classes = mact_head_get_num_classes (head);
  g_autofree float *labels = g_new (float, batch);
  for (gint64 i = 0; i < batch; i++)
    labels[i] = (float) (mact_generator_next_uint64 (rng) % (guint64) classes);
  const gint64 shape[] = { batch, 1 };
  return mact_tensor_new_from_data (labels, batch, 2, shape, error);
}

/* ------------------------------------------------------------------ the command */

int
mact_cli_bench (int argc, char **argv)
{
  const double t_start = now_ms ();
  g_auto(GStrv) shape_args = NULL;
  g_autofree char *weights = NULL;
  g_autofree char *average_clips = NULL;
  g_autofree char *input_path = NULL;
  gint threads = 0, iters = 10, warmup = 2;
  gint64 seed = 0;
  gboolean as_json = FALSE, profile = FALSE, train = FALSE;
  g_auto(GStrv) rest = NULL;
  GOptionEntry entries[] = {
    { "shape", 0, 0, G_OPTION_ARG_STRING_ARRAY, &shape_args,
      "Input shape N,V,C,H,W (2D) or N,V,C,T,H,W (3D); repeat for several (default: "
      "what the config's test pipeline gives)", "SHAPE" },
    { "input", 0, 0, G_OPTION_ARG_FILENAME, &input_path,
      "Input array (.npy, float32 or float64, shaped as --shape) instead of random values",
      "FILE" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads,
      "Compute threads (default: MACT_NUM_THREADS, else all cores)", "N" },
    { "iters", 0, 0, G_OPTION_ARG_INT, &iters, "Timed runs per shape (default: 10)", "K" },
    { "warmup", 0, 0, G_OPTION_ARG_INT, &warmup,
      "Untimed runs per shape after the first (default: 2)", "W" },
    { "weights", 0, 0, G_OPTION_ARG_FILENAME, &weights,
      "Weights (.safetensors or checkpoint .json; default: random initialisation)", "FILE" },
    { "average-clips", 0, 0, G_OPTION_ARG_STRING, &average_clips,
      "prob, score or none (default: the config's)", "MODE" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed,
      "Seed of the random weights, input and labels", "S" },
    { "train", 0, 0, G_OPTION_ARG_NONE, &train,
      "Time training steps (forward_train with random labels, backward, SGD with lr 0.01 "
      "and momentum 0.9) instead of inference", NULL },
    { "profile", 0, 0, G_OPTION_ARG_NONE, &profile,
      "Also print the time of every module over the timed runs, largest first", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &as_json, "Print the results as JSON", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rest, NULL, NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx =
    g_option_context_new ("CONFIG - measure inference or training latency and throughput");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
    "Runs forward_test without autograd (or, with --train, training steps) on random\n"
    "input or the --input array: one cold run, W warm-up runs, then K timed runs per\n"
    "shape.  Reports the median latency, throughput in clips/s (N*V views per run) and\n"
    "samples/s, and the time from start to the first result, split into reading the\n"
    "config and input, building the model and loading its weights, and the first run.\n"
    "--profile attributes the timed runs' time to the modules through forward hooks: a\n"
    "module's time is the time since the previous module finished.");
  g_autoptr(GError) error = NULL;
  /* "Usage: mact bench ...", not the bare subcommand name. */
  g_set_prgname ("mact bench");
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      mact_cli_fail ("bench", error);
      return 2;
    }
  if (rest == NULL || g_strv_length (rest) != 1)
    {
      g_autofree char *help = g_option_context_get_help (ctx, TRUE, NULL);
      fprintf (stderr, "mact bench: expected exactly one CONFIG\n\n%s", help);
      return 2;
    }
  if (iters < 1 || warmup < 0 || seed < 0)
    {
      fprintf (stderr, "mact bench: --iters must be at least 1, --warmup and --seed at "
               "least 0\n");
      return 2;
    }
  if (input_path != NULL && shape_args != NULL)
    {
      fprintf (stderr, "mact bench: --input and --shape cannot be used together: the "
               "input's shape is the array's\n");
      return 2;
    }
  g_autoptr(GArray) shapes = g_array_new (FALSE, FALSE, sizeof (Shape));
  for (guint i = 0; shape_args != NULL && shape_args[i] != NULL; i++)
    {
      Shape s;
      if (!parse_shape (shape_args[i], &s, &error))
        {
          mact_cli_fail ("bench", error);
          return 2;
        }
      g_array_append_val (shapes, s);
    }
  if (threads > 0)
    mact_set_num_threads (threads);

  g_autoptr(JsonNode) config = mact_config_load_file (rest[0], &error);
  if (config == NULL)
    return mact_cli_fail ("bench", error);

  /* The input array is read before the model is built: a wrong path fails at once. */
  g_autoptr(MactTensor) given_input = NULL;
  if (input_path != NULL)
    {
      given_input = mact_npy_load (input_path, &error);
      if (given_input == NULL)
        return mact_cli_fail ("bench", error);
      Shape s;
      gint nd;
      const gint64 *shape = mact_tensor_get_shape (given_input, &nd);
      if (nd < 2)
        {
          fprintf (stderr, "mact bench: %s: the input needs a batch and a view dimension "
                   "(N,V,...), got %d dimensions\n", input_path, nd);
          return 1;
        }
      s.ndim = nd;
      memcpy (s.shape, shape, nd * sizeof (gint64));
      g_array_append_val (shapes, s);
    }

  const double t_config = now_ms ();
  mact_manual_seed ((guint64) seed);
  g_autoptr(MactInference) inference =
    mact_inference_new_from_config (config, weights, average_clips, &error);
  if (inference == NULL)
    {
      if (error->domain == MACT_CONFIG_ERROR || error->domain == MACT_REGISTRY_ERROR)
        g_prefix_error (&error, "%s: ", rest[0]);
      return mact_cli_fail ("bench", error);
    }
  MactRecognizer *recognizer = mact_inference_get_recognizer (inference);
  g_autoptr(MactOptimizer) optimizer = NULL;
  if (train)
    {
      /* mmaction2's usual recipe; the config's own optimizer may have paramwise rules
       * that change nothing about the cost of a step. */
      g_autoptr(JsonNode) sgd = json_from_string ("{\"type\": \"SGD\", \"lr\": 0.01, "
                                                  "\"momentum\": 0.9}", NULL);
      mact_module_train (MACT_MODULE (recognizer), TRUE);
      optimizer = mact_optimizer_new_from_config (MACT_MODULE (recognizer), sgd, &error);
      if (optimizer == NULL)
        return mact_cli_fail ("bench", error);
    }
  g_autoptr(Profiler) profiler = profile ? profiler_new (recognizer, train) : NULL;
  const double t_built = now_ms ();

  /* Deriving the shape runs the pipeline on a made-up clip: not part of the time to
   * the first result, which is what a user's first inference would wait for. */
  double t_derive = 0;
  if (shapes->len == 0)
    {
      const double t0 = now_ms ();
      Shape s;
      if (!shape_from_pipeline (config, &s, &error))
        {
          g_prefix_error (&error, "%s: no --shape given and none from the test pipeline: ",
                          rest[0]);
          return mact_cli_fail ("bench", error);
        }
      g_array_append_val (shapes, s);
      t_derive = now_ms () - t0;
    }

  g_autoptr(MactGenerator) rng = mact_generator_new ((guint64) seed + 1);
  g_autoptr(MactGenerator) label_rng = mact_generator_new ((guint64) seed + 2);
  g_autoptr(JsonArray) results = json_array_new ();
  double first_result = -1, first_forward = 0;
  if (!as_json)
    printf ("%s: %s, weights %s, %d threads%s\n", rest[0], G_OBJECT_TYPE_NAME (recognizer),
            weights ? weights : "random", mact_get_num_threads (),
            train ? ", training steps (SGD)" : "");

  for (guint si = 0; si < shapes->len; si++)
    {
      const Shape *s = &g_array_index (shapes, Shape, si);
      g_autofree char *text = shape_text (s);
      g_autoptr(MactTensor) input = NULL;
      if (given_input != NULL)
        input = mact_tensor_ref (given_input);
      else
        {
          input = mact_tensor_new_empty (s->ndim, s->shape, &error);
          if (input == NULL)
            return mact_cli_fail ("bench", error);
          mact_tensor_normal_ (input, rng, 0.0, 1.0);
        }
      const gint64 batch = s->shape[0];
      const gint64 views = s->ndim > 1 ? s->shape[1] : 1;

      Run run = { recognizer, input, NULL, optimizer, profiler };
      g_autoptr(MactTensorDict) train_batch = NULL;
      if (train)
        {
          g_autoptr(MactTensor) labels = random_labels (recognizer, batch, label_rng, &error);
          if (labels == NULL)
            return mact_cli_fail ("bench", error);
          train_batch = mact_tensor_dict_new ();
          mact_tensor_dict_insert (train_batch, "imgs", input);
          mact_tensor_dict_insert (train_batch, "label", labels);
          run.batch = train_batch;
        }
      if (profiler != NULL)
        profiler_reset (profiler);

      g_autofree double *times = g_new (double, iters);
      for (gint it = -1 - warmup; it < iters; it++)
        {
          const double t0 = now_ms ();
          const gboolean ok = train ? run_train_step (&run, it >= 0, &error)
                                    : run_inference (&run, it >= 0, &error);
          const double t1 = now_ms ();
          if (!ok)
            {
              g_prefix_error (&error, "shape %s: ", text);
              return mact_cli_fail ("bench", error);
            }
          if (first_result < 0)
            {
              first_result = t1 - t_start - t_derive;
              first_forward = t1 - t0;
            }
          if (it >= 0)
            times[it] = t1 - t0;
        }
      double sum = 0;
      for (gint i = 0; i < iters; i++)
        sum += times[i];
      qsort (times, iters, sizeof (double), compare_doubles);
      const double median = iters % 2 ? times[iters / 2]
                                      : (times[iters / 2 - 1] + times[iters / 2]) / 2;
      const double mean = sum / iters;
      const double clips_per_s = 1000.0 * batch * views / mean;
      const double samples_per_s = 1000.0 * batch / mean;

      JsonObject *r = json_object_new ();
      json_object_set_string_member (r, "shape", text);
      json_object_set_int_member (r, "iters", iters);
      json_object_set_double_member (r, "median_ms", median);
      json_object_set_double_member (r, "min_ms", times[0]);
      json_object_set_double_member (r, "max_ms", times[iters - 1]);
      json_object_set_double_member (r, "mean_ms", mean);
      json_object_set_double_member (r, "clips_per_s", clips_per_s);
      json_object_set_double_member (r, "samples_per_s", samples_per_s);
      if (profiler != NULL)
        profile_to_json (profiler, iters, r);
      json_array_add_object_element (results, r);
      if (!as_json)
        {
          printf ("shape %s: median %.2f ms (min %.2f, max %.2f, %d runs), %.2f clips/s, "
                  "%.2f samples/s\n", text, median, times[0], times[iters - 1], iters,
                  clips_per_s, samples_per_s);
          if (profiler != NULL)
            profile_print (profiler, iters, median);
        }
    }

  if (as_json)
    {
      g_autoptr(JsonObject) root = json_object_new ();
      json_object_set_string_member (root, "config", rest[0]);
      json_object_set_string_member (root, "recognizer", G_OBJECT_TYPE_NAME (recognizer));
      json_object_set_string_member (root, "mode", train ? "train" : "inference");
      if (weights != NULL)
        json_object_set_string_member (root, "weights", weights);
      else
        json_object_set_null_member (root, "weights");
      if (input_path != NULL)
        json_object_set_string_member (root, "input", input_path);
      else
        json_object_set_null_member (root, "input");
      json_object_set_int_member (root, "threads", mact_get_num_threads ());
      json_object_set_double_member (root, "time_to_first_result_ms", first_result);
      json_object_set_double_member (root, "build_ms", t_built - t_start);
      json_object_set_double_member (root, "config_ms", t_config - t_start);
      json_object_set_double_member (root, "model_and_weights_ms", t_built - t_config);
      json_object_set_double_member (root, "first_forward_ms", first_forward);
      json_object_set_array_member (root, "results", json_array_ref (results));
      g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
      json_node_set_object (node, root);
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      json_generator_set_root (gen, node);
      json_generator_set_pretty (gen, TRUE);
      g_autofree char *out = json_generator_to_data (gen, NULL);
      puts (out);
    }
  else
    printf ("time to first result: %.1f ms (config and input %.1f ms, model and weights "
            "%.1f ms, first %s %.1f ms)\n", first_result, t_config - t_start,
            t_built - t_config, train ? "step" : "forward", first_forward);
  fflush (stdout);
  return 0;
}
