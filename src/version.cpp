#include "cnn/version.h"

namespace cnn {

const char* version() { return CNN_VERSION_STRING; }

}  // namespace cnn
