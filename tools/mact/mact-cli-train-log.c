/* mact-cli-train-log.c: a runner's log entries as mmcv's text lines, with a progress bar
 * on a terminal (shared by `mact train` and `mact demo`). */
#include "mact-cli.h"

#include <stdio.h>

void
mact_cli_train_log_clear_bar (MactCliTrainLog *out)
{
  if (out->bar_shown)
    {
      fputs ("\r\033[K", stdout);
      out->bar_shown = FALSE;
    }
}

static void
print_progress (MactCliTrainLog *out, JsonObject *entry)
{
  const gint64 iter = json_object_get_int_member_with_default (entry, "global_iter", 0);
  const gint64 total = json_object_get_int_member_with_default (entry, "max_iters", 1);
  const double frac = total > 0 ? (double) iter / (double) total : 0;
  const int width = 30, filled = (int) (frac * width);
  g_autofree char *eta = mact_cli_format_duration (
    json_object_get_double_member_with_default (entry, "eta", 0));
  printf ("[");
  for (int i = 0; i < width; i++)
    putchar (i < filled ? '>' : ' ');
  printf ("] %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT ", eta %s", iter, total, eta);
  fflush (stdout);
  out->bar_shown = TRUE;
}

void
mact_cli_train_log_print (MactRunner *runner, JsonObject *entry, MactCliTrainLog *out)
{
  const char *mode = json_object_get_string_member_with_default (entry, "mode", "train");
  GString *line = g_string_new (NULL);
  const char *skip[] = { "mode", "epoch", "iter", "epoch_len", "global_iter", "max_iters",
                         "eta", "lr", NULL };

  if (g_str_equal (mode, "train"))
    {
      g_autofree char *eta = mact_cli_format_duration (
        json_object_get_double_member_with_default (entry, "eta", 0));
      g_string_append_printf (line, "Epoch [%" G_GINT64_FORMAT "][%" G_GINT64_FORMAT "/%"
                              G_GINT64_FORMAT "]\tlr: %.3e, eta: %s",
                              json_object_get_int_member (entry, "epoch"),
                              json_object_get_int_member (entry, "iter"),
                              json_object_get_int_member (entry, "epoch_len"),
                              json_object_get_double_member (entry, "lr"), eta);
    }
  else
    {
      g_string_append_printf (line, "Epoch(val) [%" G_GINT64_FORMAT "]",
                              json_object_get_int_member (entry, "epoch"));
    }

  g_autoptr(GList) keys = json_object_get_members (entry);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      if (g_strv_contains (skip, l->data))
        continue;
      g_string_append_printf (line, ", %s: %.4f", (const char *) l->data,
                              json_object_get_double_member (entry, l->data));
    }

  mact_cli_train_log_clear_bar (out);
  puts (line->str);
  g_string_free (line, TRUE);
  if (out->tty && g_str_equal (mode, "train"))
    print_progress (out, entry);
  fflush (stdout);
}

