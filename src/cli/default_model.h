// Where the built-in default model lives when -m is not given: $DSV4_DEFAULT_MODEL, else
// models/default beside the checkout that built this binary (found from /proc/self/exe), else
// ./models/default.
#pragma once
#include <string>

namespace dsv4::cli {

std::string default_model_dir();

}  // namespace dsv4::cli
