#pragma once

#include <string>

#include "loader/model_config.h"

namespace r1vk::cli {
// r1vk info --kernels: pipeline statistics of every kernel variant on `device` (-1: the highest-ranked
// device, a compile-only one included) for a model of these shapes.
int info_kernels(int device, const ModelConfig& model, const std::string& model_name, bool json);
}  // namespace r1vk::cli
