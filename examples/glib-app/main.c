/* main.c: classify one video from a GLib application without blocking its main loop.
 *
 *   mact-glib-example [--label-map FILE] CONFIG VIDEO [WEIGHTS]
 *
 * Everything slow (parsing the config, building the recognizer, reading the weights,
 * decoding the video and running the network) happens in mact's worker threads, and the
 * results come back as callbacks in this thread's main loop.  That is the shape a GUI
 * needs: its loop keeps drawing while a video is classified.  Ctrl-C cancels the work in
 * flight through a GCancellable instead of killing the process, as a "Cancel" button
 * would.
 *
 * Output: the five best classes, "label: score" per line, best first (the same lines as
 * `mact infer`).  Any error prints its GError message and exits with status 1. */

#include <mact/mact.h>

#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#define TOP_K 5

typedef struct {
  GMainLoop     *loop;
  GCancellable  *cancellable;  /* shared by every step, so one cancel stops any of them */
  MactInference *inference;
  const char    *video;
  char         **labels;       /* from --label-map, or NULL */
  guint          sigint_id;
  int            status;
} App;

static void
app_fail (App *app, const char *message)
{
  g_printerr ("%s: %s\n", g_get_prgname (), message);
  app->status = EXIT_FAILURE;
  g_main_loop_quit (app->loop);
}

static gboolean
on_sigint (gpointer user_data)
{
  App *app = user_data;

  /* The worker notices between pipeline steps and between layers, and the pending
   * _finish() then fails with G_IO_ERROR_CANCELLED, which ends the loop as any error
   * does: there is a single exit path. */
  g_printerr ("%s: interrupted, cancelling\n", g_get_prgname ());
  g_cancellable_cancel (app->cancellable);

  /* Removing the last SIGINT source puts the default handler back, so a second Ctrl-C
   * still ends the program should the work be slow to stop. */
  app->sigint_id = 0;
  return G_SOURCE_REMOVE;
}

/* Prints the TOP_K best of @n_classes scores.  Repeated selection rather than a sort:
 * with k = 5 it is cheaper than sorting hundreds of classes, and ties keep the lower
 * class index first, as `mact infer` prints them. */
static void
print_top (const float *scores, guint n_classes, char **labels, const char *indent)
{
  const guint k = MIN (TOP_K, n_classes);
  g_autofree gboolean *taken = g_new0 (gboolean, n_classes);

  for (guint r = 0; r < k; r++)
    {
      guint best = G_MAXUINT;
      for (guint j = 0; j < n_classes; j++)
        if (!taken[j] && (best == G_MAXUINT || scores[j] > scores[best]))
          best = j;
      taken[best] = TRUE;
      if (labels != NULL)
        printf ("%s%s: %.4f\n", indent, labels[best], scores[best]);
      else
        printf ("%s%u: %.4f\n", indent, best, scores[best]);
    }
}

static void
on_classified (GObject *source, GAsyncResult *result, gpointer user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) scores =
    mact_inference_classify_file_finish (MACT_INFERENCE (source), result, &error);

  if (scores == NULL)
    {
      app_fail (app, error->message);
      return;
    }

  /* [num_classes]; or [views, num_classes] when the config's test_cfg says
   * average_clips "none", in which case each view is printed on its own. */
  const gint ndim = mact_tensor_get_ndim (scores);
  const guint n_classes = (guint) mact_tensor_get_size (scores, ndim - 1);
  const guint rows = ndim == 2 ? (guint) mact_tensor_get_size (scores, 0) : 1;

  /* A label map from another dataset would name the wrong classes, or too few of
   * them to index safely: refuse it rather than print something misleading. */
  if (app->labels != NULL && g_strv_length (app->labels) != n_classes)
    {
      g_autofree char *message =
        g_strdup_printf ("the label map has %u class names but the model gives %u scores",
                         g_strv_length (app->labels), n_classes);
      app_fail (app, message);
      return;
    }

  /* The result may be a strided view of a larger tensor: copy it out in row-major
   * order rather than reading mact_tensor_get_data() directly. */
  g_autofree float *data = g_new (float, mact_tensor_get_numel (scores));
  mact_tensor_copy_to_array (scores, data);

  if (rows == 1)
    print_top (data, n_classes, app->labels, "");
  else
    for (guint r = 0; r < rows; r++)
      {
        printf ("view %u:\n", r);
        print_top (data + (gsize) r * n_classes, n_classes, app->labels, "  ");
      }
  fflush (stdout);

  app->status = EXIT_SUCCESS;
  g_main_loop_quit (app->loop);
}

/* @source is NULL: the inference did not exist yet when the task began. */
static void
on_inference_ready (G_GNUC_UNUSED GObject *source,
                    GAsyncResult          *result,
                    gpointer               user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;

  app->inference = mact_inference_new_from_files_finish (result, &error);
  if (app->inference == NULL)
    {
      app_fail (app, error->message);
      return;
    }

  /* The same cancellable: a Ctrl-C that came in between the two steps has already
   * cancelled it, and this call then fails at once instead of starting work. */
  mact_inference_classify_file_async (app->inference, app->video, app->cancellable,
                                      on_classified, app);
}

int
main (int argc, char **argv)
{
  g_autofree char *label_map = NULL;
  const GOptionEntry entries[] = {
    { "label-map", 'l', 0, G_OPTION_ARG_FILENAME, &label_map,
      "Class names, one per line (the first names class 0)", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("CONFIG VIDEO [WEIGHTS]");
  g_autoptr(GError) error = NULL;

  /* GLib's messages are translated and g_printerr() converts them to the terminal's
   * charset: both follow the locale the user set, once the program adopts it. */
  setlocale (LC_ALL, "");

  g_option_context_set_summary (context,
    "Classifies VIDEO with the recognizer and test pipeline of CONFIG (an mmaction2-style\n"
    "JSON config), with WEIGHTS (.safetensors or a checkpoint .json) if given, and prints\n"
    "the top-5 classes.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s: %s\n", g_get_prgname (), error->message);
      return EXIT_FAILURE;
    }
  if (argc < 3 || argc > 4)
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);
      g_printerr ("%s", help);
      return EXIT_FAILURE;
    }

  App app = { .video = argv[2], .status = EXIT_FAILURE };

  /* The label map is small and read synchronously, before any slow work: a typo in
   * its path should fail at once, not after the model has been built. */
  if (label_map != NULL && (app.labels = mact_label_map_load (label_map, &error)) == NULL)
    {
      g_printerr ("%s: %s\n", g_get_prgname (), error->message);
      return EXIT_FAILURE;
    }

  app.loop = g_main_loop_new (NULL, FALSE);
  app.cancellable = g_cancellable_new ();
  /* A GLib signal source runs the handler in the main loop, where calling any GLib
   * function is safe, unlike in a raw signal handler. */
  app.sigint_id = g_unix_signal_add (SIGINT, on_sigint, &app);

  /* Callbacks run in the thread-default main context of the caller: here the global
   * default context, which app.loop runs. */
  mact_inference_new_from_files_async (argv[1], argc > 3 ? argv[3] : NULL, NULL,
                                       app.cancellable, on_inference_ready, &app);
  g_main_loop_run (app.loop);

  if (app.sigint_id != 0)
    g_source_remove (app.sigint_id);
  g_clear_object (&app.inference);
  g_clear_object (&app.cancellable);
  g_clear_pointer (&app.loop, g_main_loop_unref);
  g_clear_pointer (&app.labels, g_strfreev);
  return app.status;
}
