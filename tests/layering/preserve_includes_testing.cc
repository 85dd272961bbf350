// Must not compile: product layers never see the test doubles.
#include "preserve/preserve.h"
#include "testing/simulated_pmem.h"
