/* mact-main.c: the `mact` program: dispatches to one subcommand per file. */
#include "mact-cli.h"

#include <locale.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  const char *name;
  int       (*run) (int argc, char **argv);
  const char *summary;
} MactCommand;

static const MactCommand commands[] = {
  { "infer", mact_cli_infer, "classify a video, frame directory or array (demo/demo.py)" },
  { "test", mact_cli_test, "accuracy on an annotation list (mmaction2's tools/test.py)" },
  { "train", mact_cli_train, "train a recognizer from a config (mmaction2's tools/train.py)" },
  { "plugins", mact_cli_plugins, "list plugin families, plugins, block types and failures" },
  { "bench", mact_cli_bench, "inference latency and throughput on random input" },
  { "demo", mact_cli_demo, "train on synthetic actions, write videos, classify them back" },
};

static void
usage (FILE *out)
{
  fprintf (out, "Usage: mact COMMAND [OPTION...]\n\nCommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nRun 'mact COMMAND --help' for the options of a command.\n"
                "'mact --version' prints the version.\n");
}

int
mact_cli_fail (const char *command, const GError *error)
{
  fprintf (stderr, "mact %s: %s\n", command, error ? error->message : "failed");
  return 1;
}

char *
mact_cli_format_duration (double seconds)
{
  if (!(seconds >= 0) || seconds > 1e8)
    seconds = 0;
  const guint64 s = (guint64) (seconds + 0.5);
  return g_strdup_printf ("%" G_GUINT64_FORMAT ":%02u:%02u", s / 3600,
                          (guint) (s / 60 % 60), (guint) (s % 60));
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  /* Activations and work buffers of a few MiB are allocated and freed at every layer.
   * glibc would map and unmap each (and trim the heap after it), so every step paid
   * page faults on fresh memory: 10-15% of a small training step.  Keep them in the
   * heap instead; this is the program's choice, the library leaves malloc alone. */
  mallopt (M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt (M_TRIM_THRESHOLD, 512 * 1024 * 1024);

  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") ||
      g_str_equal (argv[1], "help"))
    {
      usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? 2 : 0;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      printf ("mact %s\n", MACT_VERSION_S);
      return 0;
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[1], commands[i].name))
      return commands[i].run (argc - 1, argv + 1);

  fprintf (stderr, "mact: unknown command '%s'\n\n", argv[1]);
  usage (stderr);
  return 2;
}
