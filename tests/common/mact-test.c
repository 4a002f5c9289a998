/* mact-test.c: fixture loading, tolerance assertions and finite-difference gradient checks
 * for the cmocka tests.  Test-only code: a malformed fixture fails the test. */
#include "mact-test.h"

#include <glib/gstdio.h>

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>

struct _MactTestFixture {
  GHashTable *tensors;   /* name -> MactTensor */
  GHashTable *meta;      /* name -> string */
};

void
mact_test_fixture_free (MactTestFixture *fixture)
{
  if (fixture == NULL)
    return;
  g_hash_table_unref (fixture->tensors);
  g_hash_table_unref (fixture->meta);
  g_free (fixture);
}

static guint64
read_le64 (const guint8 *p)
{
  guint64 v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

MactTestFixture *
mact_test_fixture_load (const char *name)
{
  const char *dir = g_getenv ("MACT_TEST_DATA_DIR");
  g_autofree char *file = g_strconcat (name, ".safetensors", NULL);
  g_autofree char *path = g_build_filename (dir ? dir : "tests/data", "ops", file, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (!g_file_get_contents (path, &contents, &length, &error))
    fail_msg ("cannot read fixture %s: %s", path, error->message);
  if (length < 8)
    fail_msg ("fixture %s is truncated", path);
  guint64 header_len = read_le64 ((const guint8 *) contents);
  if (header_len > length - 8)
    fail_msg ("fixture %s has a bad header length", path);

  g_autoptr(JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, contents + 8, (gssize) header_len, &error))
    fail_msg ("fixture %s: bad header: %s", path, error->message);
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  const guint8 *data = (const guint8 *) contents + 8 + header_len;
  gsize data_len = length - 8 - header_len;

  MactTestFixture *fixture = g_new0 (MactTestFixture, 1);
  fixture->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify) mact_tensor_unref);
  fixture->meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_autoptr(GList) members = json_object_get_members (root);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;
      JsonObject *entry = json_object_get_object_member (root, key);
      if (g_str_equal (key, "__metadata__"))
        {
          g_autoptr(GList) mkeys = json_object_get_members (entry);
          for (GList *m = mkeys; m != NULL; m = m->next)
            g_hash_table_insert (fixture->meta, g_strdup (m->data),
                                 g_strdup (json_object_get_string_member (entry, m->data)));
          continue;
        }
      JsonArray *shape_arr = json_object_get_array_member (entry, "shape");
      JsonArray *offsets = json_object_get_array_member (entry, "data_offsets");
      gint64 shape[MACT_MAX_DIMS];
      gint ndim = (gint) json_array_get_length (shape_arr);
      if (ndim > MACT_MAX_DIMS)
        fail_msg ("fixture %s: %s has too many dims", path, key);
      for (gint i = 0; i < ndim; i++)
        shape[i] = json_array_get_int_element (shape_arr, i);
      gint64 begin = json_array_get_int_element (offsets, 0);
      gint64 end = json_array_get_int_element (offsets, 1);
      if (begin < 0 || end < begin || (gsize) end > data_len)
        fail_msg ("fixture %s: %s has bad offsets", path, key);
      MactTensor *t = mact_tensor_new_from_data ((const float *) (data + begin),
                                                 (gsize) (end - begin) / sizeof (float),
                                                 ndim, shape, &error);
      if (t == NULL)
        fail_msg ("fixture %s: %s: %s", path, key, error->message);
      g_hash_table_insert (fixture->tensors, g_strdup (key), t);
    }
  return fixture;
}

gboolean
mact_test_fixture_has (MactTestFixture *fixture, const char *key)
{
  return g_hash_table_contains (fixture->tensors, key);
}

MactTensor *
mact_test_fixture_get (MactTestFixture *fixture, const char *key)
{
  MactTensor *t = g_hash_table_lookup (fixture->tensors, key);
  if (t == NULL)
    fail_msg ("fixture has no tensor '%s'", key);
  return t;
}

const char *
mact_test_fixture_meta (MactTestFixture *fixture, const char *key)
{
  const char *v = g_hash_table_lookup (fixture->meta, key);
  if (v == NULL)
    fail_msg ("fixture has no metadata '%s'", key);
  return v;
}

gint64
mact_test_fixture_meta_int (MactTestFixture *fixture, const char *key)
{
  return g_ascii_strtoll (mact_test_fixture_meta (fixture, key), NULL, 10);
}

double
mact_test_fixture_meta_double (MactTestFixture *fixture, const char *key)
{
  return g_ascii_strtod (mact_test_fixture_meta (fixture, key), NULL);
}

gint
mact_test_fixture_meta_ints (MactTestFixture *fixture, const char *key, gint64 *out,
                             gint n_max)
{
  g_auto(GStrv) parts = g_strsplit (mact_test_fixture_meta (fixture, key), ",", -1);
  gint n = 0;
  for (; parts[n] != NULL && n < n_max; n++)
    out[n] = g_ascii_strtoll (parts[n], NULL, 10);
  return n;
}

void
mact_test_init (void)
{
  if (g_getenv ("MACT_TEST_UNDER_VALGRIND") != NULL)
    cmocka_set_skip_filter ("test_full_*");
  /* For developers: run only the tests matching a glob, e.g. MACT_TEST_FILTER='test_c3d*'. */
  const char *filter = g_getenv ("MACT_TEST_FILTER");
  if (filter != NULL && *filter != '\0')
    cmocka_set_test_filter (filter);
}

MactModule *
mact_test_try_build (const char *json, GType kind, GError **error)
{
  g_autoptr(JsonNode) node = json_from_string (json, error);
  if (node == NULL)
    return NULL;
  return mact_registry_build_from_json (mact_registry_get_default (), node, kind, error);
}

MactModule *
mact_test_build_kind (const char *json, GType kind)
{
  g_autoptr(GError) error = NULL;
  MactModule *module = mact_test_try_build (json, kind, &error);
  if (module == NULL)
    fail_msg ("building %s: %s", json, error->message);
  return module;
}

void
mact_test_assert_build_error (const char *json, GQuark domain, gint code)
{
  GError *error = NULL;
  MactModule *module = mact_test_try_build (json, MACT_TYPE_MODULE, &error);
  if (module != NULL)
    {
      g_object_unref (module);
      fail_msg ("building %s succeeded, expected an error", json);
    }
  mact_test_assert_error (&error, domain, code);
}

void
mact_test_assert_close (MactTensor *got, MactTensor *expected, double tol, const char *what)
{
  assert_non_null (got);
  assert_non_null (expected);
  g_autofree char *gs = mact_tensor_shape_to_string (got);
  g_autofree char *es = mact_tensor_shape_to_string (expected);
  if (!g_str_equal (gs, es))
    fail_msg ("%s: shape %s, expected %s", what, gs, es);

  gint64 n = mact_tensor_get_numel (got);
  g_autofree float *a = g_new (float, MAX (n, 1));
  g_autofree float *b = g_new (float, MAX (n, 1));
  mact_tensor_copy_to_array (got, a);
  mact_tensor_copy_to_array (expected, b);
  double scale = 1.0, max_err = 0.0;
  gint64 worst = 0;
  for (gint64 i = 0; i < n; i++)
    scale = MAX (scale, fabs ((double) b[i]));
  for (gint64 i = 0; i < n; i++)
    {
      double e = fabs ((double) a[i] - (double) b[i]);
      if (isnan (a[i]) != isnan (b[i]))
        e = INFINITY;
      if (e > max_err)
        {
          max_err = e;
          worst = i;
        }
    }
  if (max_err > tol * scale)
    fail_msg ("%s: max abs error %g at flat index %" G_GINT64_FORMAT
              " (got %g, expected %g) exceeds %g", what, max_err, worst,
              (double) a[worst], (double) b[worst], tol * scale);
}

void
mact_test_assert_error (GError **error, GQuark domain, gint code)
{
  assert_non_null (error);
  if (*error == NULL)
    fail_msg ("expected error %s:%d, got none", g_quark_to_string (domain), code);
  if ((*error)->domain != domain || (*error)->code != code)
    fail_msg ("expected error %s:%d, got %s:%d (%s)", g_quark_to_string (domain), code,
              g_quark_to_string ((*error)->domain), (*error)->code, (*error)->message);
  /* Messages must name the thing; an empty one is a defect. */
  assert_true (strlen ((*error)->message) > 0);
  g_clear_error (error);
}

MactTensor *
mact_test_random (gint ndim, const gint64 *shape, guint64 seed, double low, double high)
{
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_tensor_new_empty (ndim, shape, &error);
  if (t == NULL)
    fail_msg ("mact_test_random: %s", error->message);
  g_autoptr(MactGenerator) gen = mact_generator_new (seed);
  mact_tensor_uniform_ (t, gen, low, high);
  return t;
}

static double
probe_loss (MactTestFunc func, MactTensor **inputs, gpointer user_data, const float *r,
            gint64 n_out)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) out = NULL;
  MACT_NO_GRAD_BEGIN
  out = func (inputs, user_data, &error);
  MACT_NO_GRAD_END
  if (out == NULL)
    fail_msg ("gradcheck: function failed: %s", error->message);
  g_autofree float *v = g_new (float, MAX (n_out, 1));
  assert_int_equal (mact_tensor_get_numel (out), n_out);
  mact_tensor_copy_to_array (out, v);
  double acc = 0.0;
  for (gint64 i = 0; i < n_out; i++)
    acc += (double) v[i] * (double) r[i];
  return acc;
}

void
mact_test_gradcheck (MactTestFunc func, MactTensor **inputs, guint n_inputs,
                     gpointer user_data, double eps, double rtol)
{
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < n_inputs; i++)
    if (inputs[i] != NULL && mact_tensor_get_requires_grad (inputs[i]))
      mact_tensor_set_grad (inputs[i], NULL);

  g_autoptr(MactTensor) out = func (inputs, user_data, &error);
  if (out == NULL)
    fail_msg ("gradcheck: function failed: %s", error->message);
  gint64 n_out = mact_tensor_get_numel (out);
  gint ndim;
  const gint64 *shape = mact_tensor_get_shape (out, &ndim);
  g_autoptr(MactTensor) r = mact_test_random (ndim, shape, 12345, -1.0, 1.0);
  g_autofree float *rv = g_new (float, MAX (n_out, 1));
  mact_tensor_copy_to_array (r, rv);

  /* Analytic: backward of sum(out * r) is backward(out, grad = r). */
  if (!mact_tensor_backward (out, r, &error))
    fail_msg ("gradcheck: backward failed: %s", error->message);

  for (guint i = 0; i < n_inputs; i++)
    {
      MactTensor *x = inputs[i];
      if (x == NULL || !mact_tensor_get_requires_grad (x))
        continue;
      assert_true (mact_tensor_is_contiguous (x));
      MactTensor *grad = mact_tensor_get_grad (x);
      if (grad == NULL)
        fail_msg ("gradcheck: input %u received no gradient", i);
      gint64 n = mact_tensor_get_numel (x);
      g_autofree float *analytic = g_new (float, MAX (n, 1));
      mact_tensor_copy_to_array (grad, analytic);
      g_autofree double *numeric = g_new (double, MAX (n, 1));
      float *xd = mact_tensor_get_data (x);
      double scale = 1.0;
      for (gint64 j = 0; j < n; j++)
        {
          float orig = xd[j];
          xd[j] = orig + (float) eps;
          double lp = probe_loss (func, inputs, user_data, rv, n_out);
          xd[j] = orig - (float) eps;
          double lm = probe_loss (func, inputs, user_data, rv, n_out);
          xd[j] = orig;
          /* Divide by the step actually taken in float, not the nominal one. */
          double step = (double) (orig + (float) eps) - (double) (orig - (float) eps);
          numeric[j] = (lp - lm) / step;
          scale = MAX (scale, fabs (numeric[j]));
        }
      for (gint64 j = 0; j < n; j++)
        {
          double err = fabs ((double) analytic[j] - numeric[j]);
          if (err > rtol * scale + rtol * fabs (numeric[j]))
            fail_msg ("gradcheck: input %u element %" G_GINT64_FORMAT ": analytic %g, "
                      "numeric %g", i, j, (double) analytic[j], numeric[j]);
        }
    }
}

void
mact_test_remove_tree (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  if (d == NULL)
    return;
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        mact_test_remove_tree (path);
      else
        g_unlink (path);
    }
  g_rmdir (dir);
}

void
mact_test_run_clear (MactTestRun *r)
{
  g_clear_pointer (&r->out, g_free);
  g_clear_pointer (&r->err, g_free);
}

MactTestRun
mact_test_run_cli_envv (const char *const *env_extra, const char *const *args)
{
  const char *cli = g_getenv ("MACT_TEST_CLI");
  assert_non_null (cli);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) cli);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  g_auto(GStrv) envp = g_get_environ ();
  for (guint i = 0; env_extra != NULL && env_extra[i] != NULL; i++)
    {
      g_auto(GStrv) kv = g_strsplit (env_extra[i], "=", 2);
      envp = g_environ_setenv (envp, kv[0], kv[1], TRUE);
    }
  envp = g_environ_setenv (envp, "MACT_NUM_THREADS", "1", TRUE);

  MactTestRun r = { 0 };
  int wait_status = 0;
  g_autoptr(GError) error = NULL;
  assert_true (g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL,
                             &r.out, &r.err, &wait_status, &error));
  assert_null (error);
  assert_true (WIFEXITED (wait_status));
  r.status = WEXITSTATUS (wait_status);
  return r;
}

char *
mact_test_write_bar_clip (const char *dir, const char *name, gint n_frames, float background,
                          gint speed, gint offset)
{
  enum { WIDTH = 32, HEIGHT = 24 };
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(MactVideoWriter) w = mact_video_writer_new (path, WIDTH, HEIGHT, 25.0, &error);
  if (w == NULL)
    fail_msg ("%s", error->message);
  const gint64 shape[] = { n_frames, HEIGHT, WIDTH, 3 };
  g_autoptr(MactTensor) frames = mact_tensor_new_full (4, shape, background, &error);
  if (frames == NULL)
    fail_msg ("%s", error->message);
  float *d = mact_tensor_get_data (frames);
  for (gint t = 0; t < n_frames; t++)
    {
      const gint x = (offset + speed * t) % WIDTH;
      for (gint y = 0; y < HEIGHT; y++)
        for (gint c = 0; c < 3; c++)
          d[((t * HEIGHT + y) * WIDTH + x) * 3 + c] = 255.0f;
    }
  if (!mact_video_writer_write (w, frames, &error) || !mact_video_writer_close (w, &error))
    fail_msg ("%s", error->message);
  return g_steal_pointer (&path);
}
