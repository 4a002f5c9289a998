/* fuzz-common.c: set-up and helpers shared by the libFuzzer targets. */
#define _GNU_SOURCE   /* memfd_create */
#include "fuzz-common.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* ASan's defaults for every target (ASAN_OPTIONS still overrides them).  A request over
 * 256 MB returns NULL instead of aborting, so it takes mact's out-of-memory path (a
 * GError) like a real failed allocation; libFuzzer's -malloc_limit_mb (the RSS limit by
 * default) never sees it.  A smaller quarantine keeps the RSS of long runs below
 * -rss_limit_mb=2048. */
const char *__asan_default_options (void);
const char *
__asan_default_options (void)
{
  return "allocator_may_return_null=1:max_allocation_size_mb=256:quarantine_size_mb=64";
}

/* UBSan only prints a report by default; here it must stop the run, so that the fuzzer
 * records the input. */
const char *__ubsan_default_options (void);
const char *
__ubsan_default_options (void)
{
  return "halt_on_error=1:print_stacktrace=1";
}

static GLogWriterOutput
fuzz_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  /* A critical is a g_return_if_fail() that library code hit on hostile input: a bug,
   * reported as a crash so that the fuzzer keeps the input.  Warnings (the registry's
   * notes on refused plugins), messages, info and debug (FFmpeg's complaints about broken
   * streams) are expected and only noise here. */
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    {
      g_log_writer_standard_streams (level, fields, n_fields, user_data);
      abort ();
    }
  return G_LOG_WRITER_HANDLED;
}

void
mact_fuzz_init (void)
{
  static gsize done = 0;
  if (!g_once_init_enter (&done))
    return;
  /* libmact logs with the structured API, which only the default writer makes fatal
   * with g_log_set_always_fatal(); this writer does it itself. */
  g_log_set_writer_func (fuzz_writer, NULL, NULL);
  g_setenv ("MACT_NUM_THREADS", "1", FALSE);
  g_once_init_leave (&done, 1);
}

int
mact_fuzz_memfd (const uint8_t *data, size_t size, const char *name, char *path,
                 size_t path_size)
{
  int fd = memfd_create (name, MFD_CLOEXEC);
  if (fd < 0)
    {
      perror ("memfd_create");
      abort ();
    }
  size_t done = 0;
  while (done < size)
    {
      ssize_t n = write (fd, data + done, size - done);
      if (n <= 0)
        {
          perror ("write to memfd");
          abort ();
        }
      done += (size_t) n;
    }
  lseek (fd, 0, SEEK_SET);
  g_snprintf (path, path_size, "/proc/self/fd/%d", fd);
  return fd;
}

typedef struct {
  guint               max_depth;
  gint64              max_integer;
  double              max_double;
  guint               budget;
  const char *const  *denied;
} Limits;

static gboolean
json_is_small (JsonNode *node, guint depth, Limits *limits)
{
  if (depth > limits->max_depth || limits->budget == 0)
    return FALSE;
  limits->budget--;
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        g_autoptr(GList) values = json_object_get_values (json_node_get_object (node));
        for (GList *l = values; l != NULL; l = l->next)
          if (!json_is_small (l->data, depth + 1, limits))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);
        for (guint i = 0; i < n; i++)
          if (!json_is_small (json_array_get_element (array, i), depth + 1, limits))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_VALUE:
      {
        GType type = json_node_get_value_type (node);
        if (type == G_TYPE_INT64)
          {
            gint64 v = json_node_get_int (node);
            return v <= limits->max_integer && v >= -limits->max_integer;
          }
        if (type == G_TYPE_DOUBLE)
          {
            double v = json_node_get_double (node);
            /* NaN fails both comparisons, and is kept: it is a value to test. */
            return !(v > limits->max_double || v < -limits->max_double);
          }
        if (type == G_TYPE_STRING && limits->denied != NULL)
          return !g_strv_contains (limits->denied, json_node_get_string (node));
        return TRUE;
      }
    case JSON_NODE_NULL:
    default:
      return TRUE;
    }
}

gboolean
mact_fuzz_json_is_small (JsonNode *node, guint max_depth, gint64 max_integer,
                         double max_double, guint max_nodes, const char *const *denied)
{
  Limits limits = { max_depth, max_integer, max_double, max_nodes, denied };
  return node != NULL && json_is_small (node, 0, &limits);
}

gboolean
mact_fuzz_json_text_is_shallow (const uint8_t *data, size_t size, guint max_depth)
{
  guint depth = 0;
  gboolean in_string = FALSE;
  for (size_t i = 0; i < size; i++)
    {
      if (in_string)
        {
          if (data[i] == '\\')
            i++;
          else if (data[i] == '"')
            in_string = FALSE;
        }
      else if (data[i] == '"')
        in_string = TRUE;
      else if (data[i] == '[' || data[i] == '{')
        {
          if (++depth > max_depth)
            return FALSE;
        }
      else if ((data[i] == ']' || data[i] == '}') && depth > 0)
        depth--;
    }
  return TRUE;
}
