// libjpeg-turbo through its TurboJPEG API: it wraps libjpeg's setjmp/longjmp error handling,
// which Swift cannot do, and returns error codes instead.
#include <turbojpeg.h>
