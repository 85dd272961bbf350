// The fuzz targets' assertion: a broken invariant prints what broke and aborts, which libFuzzer
// reports as a crash (saving the input) and a regression test as a failure.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#define WB_FUZZ_CHECK(cond, what)                                                          \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "fuzz check failed at %s:%d: %s\n  (%s)\n", __FILE__, __LINE__, \
                   std::string(what).c_str(), #cond);                                      \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)
