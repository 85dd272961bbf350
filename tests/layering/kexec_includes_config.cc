// Must not compile: kexec knows nothing of the configuration above it.
#include "kexec/kexec.h"
#include "orchestration/config.h"
