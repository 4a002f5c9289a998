/* Public headers: each compiles on its own, and the library matches them.
 *
 * tests/meson.build compiles test-headers-single.c.in once per installed header, with
 * that header as the only mact include of the translation unit, and links the results
 * here; a header that depends on another without including it breaks the build of this
 * test.  test-headers.cc does the same for <mact/mact.h> in C++.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <mact/mact.h>

#define MACT_TEST_HEADER(id, file) const char *mact_test_header_##id (void);
#include "test-headers-list.h"
#undef MACT_TEST_HEADER

/* One test per header, named after it, so the TAP output lists what was checked. */
#define MACT_TEST_HEADER(id, file)                                \
  static void                                                     \
  test_##id (void **state)                                        \
  {                                                               \
    assert_string_equal (mact_test_header_##id (), file);         \
  }
#include "test-headers-list.h"
#undef MACT_TEST_HEADER

static void
test_runtime_version (void **state)
{
  /* The library a program runs with is the one whose headers it was built against. */
  assert_int_equal (mact_get_major_version (), MACT_MAJOR_VERSION);
  assert_int_equal (mact_get_minor_version (), MACT_MINOR_VERSION);
  assert_int_equal (mact_get_micro_version (), MACT_MICRO_VERSION);
  assert_true (MACT_CHECK_VERSION (MACT_MAJOR_VERSION, MACT_MINOR_VERSION,
                                   MACT_MICRO_VERSION));
  assert_false (MACT_CHECK_VERSION (MACT_MAJOR_VERSION, MACT_MINOR_VERSION,
                                    MACT_MICRO_VERSION + 1));
  assert_true (MACT_CHECK_VERSION (0, 1, 0));
  assert_int_equal (MACT_VERSION_CUR_STABLE,
                    MACT_ENCODE_VERSION (MACT_MAJOR_VERSION, MACT_MINOR_VERSION));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
#define MACT_TEST_HEADER(id, file) { file, test_##id, NULL, NULL, NULL },
#include "test-headers-list.h"
#undef MACT_TEST_HEADER
    cmocka_unit_test (test_runtime_version),
  };
  return cmocka_run_group_tests_name ("headers", tests, NULL, NULL);
}
