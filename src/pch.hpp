// Precompiled header: the heavy LibTorch headers, parsed once per target.
#pragma once
#include <ATen/ATen.h>
#include <torch/script.h>
