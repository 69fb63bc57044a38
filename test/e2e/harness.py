"""A tiny test runner for the end-to-end suites: unittest underneath, and a
closing line "N passed, N failed" that CI reads."""
import sys
import unittest


def main(module_name, label=None):
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module_name])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print(f"{label or module_name}: {passed} passed, {failed} failed")
    sys.exit(1 if failed or result.testsRun == 0 else 0)
