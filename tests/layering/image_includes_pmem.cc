// Must not compile: the image layer sits below pmem (tests/layering/CMakeLists.txt).
#include "image/image.h"
#include "pmem/pmem.h"
