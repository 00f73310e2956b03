// Package archtest enforces the project's architecture with tests that can
// fail: the import rules of STYLE.md §2.1 (checked with go list), no
// wall-clock reads in pipeline/ and rules/, no non-test use of the test
// helpers, and lowercase error strings.
package archtest
