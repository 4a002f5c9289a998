/* mact-cli.h: the subcommands of the `mact` program and what they share. */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

/* Each subcommand parses its own arguments (argv[0] is the subcommand name) and returns
 * the process exit status; errors go to stderr as "mact <cmd>: message". */
int mact_cli_train (int argc, char **argv);

/* Prints @error as the one line a user sees, and returns the exit status for it. */
int mact_cli_fail (const char *command, const GError *error);

/* "H:MM:SS" for a duration in seconds. */
char *mact_cli_format_duration (double seconds);

G_END_DECLS
