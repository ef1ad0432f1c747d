// Everything a program needs to build, train and run a network.
#pragma once

#include "cnn/dataset.h"
#include "cnn/error.h"
#include "cnn/layers/activation.h"
#include "cnn/layers/conv2d.h"
#include "cnn/layers/dense.h"
#include "cnn/layers/dropout.h"
#include "cnn/layers/flatten.h"
#include "cnn/layers/pool.h"
#include "cnn/layers/subsampling.h"
#include "cnn/loss.h"
#include "cnn/netfile.h"
#include "cnn/network.h"
#include "cnn/optimizer.h"
#include "cnn/runtime.h"
#include "cnn/tensor.h"
#include "cnn/trainer.h"
