/* mact-cli.h: the subcommands of the `mact` program and what they share. */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

/* Each subcommand parses its own arguments (argv[0] is the subcommand name) and returns
 * the process exit status; errors go to stderr as "mact <cmd>: message". */
int mact_cli_train   (int argc, char **argv);
int mact_cli_infer   (int argc, char **argv);
int mact_cli_test    (int argc, char **argv);
int mact_cli_plugins (int argc, char **argv);
int mact_cli_bench   (int argc, char **argv);
int mact_cli_demo    (int argc, char **argv);

/* Prints @error as the one line a user sees, and returns the exit status for it. */
int mact_cli_fail (const char *command, const GError *error);

/* test_cfg's average_clips of @recognizer: "prob", "score", or NULL for None. */
const char *mact_cli_average_clips (MactRecognizer *recognizer);

/* "H:MM:SS" for a duration in seconds. */
char *mact_cli_format_duration (double seconds);

/* Prints a runner's "log" entries as mmcv's text lines; on a terminal (@tty) a progress
 * bar follows the last train line until the next line or clear_bar. */
typedef struct {
  gboolean tty;
  gboolean bar_shown;
} MactCliTrainLog;

void mact_cli_train_log_print     (MactRunner *runner, JsonObject *entry,
                                   MactCliTrainLog *out);
void mact_cli_train_log_clear_bar (MactCliTrainLog *out);

G_END_DECLS
