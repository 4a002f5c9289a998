/* test-video.c: placeholder. */
#include "mact-test.h"

static void
test_placeholder (void **state)
{
  assert_true (TRUE);
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_placeholder),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
