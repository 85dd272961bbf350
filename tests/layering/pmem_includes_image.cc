// Must not compile: pmem and image are siblings; neither sees the other.
#include "image/format.h"
#include "pmem/pmem.h"
