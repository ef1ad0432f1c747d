// Where a training step's time goes: the plan's steps timed from outside (Network::set_profiling), as a table.
#pragma once

#include <string>

#include "cnn/network.h"

namespace cnn {

// One line per plan step, forward and backward µs per call, GFLOP/s (a multiply-add is 2 FLOP; backward does
// about twice the forward's work: dW and dA) and share of the total, then the loss and the total. Steps that ran
// no backward show only their forward.
std::string profile_table(const Network& net);

}  // namespace cnn
