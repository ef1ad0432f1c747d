// The processes of an `mpirun` (or `srun`) launch of the tool: rank 0 alone writes files and prints; every rank
// trains its share of each batch (cnn/collective.h). Started without a launcher, the tool is one process and none of
// this costs anything; a build without MPI (cmake/mpi.cmake did not find it) is always one process.
#pragma once

#include <string>

#include "cnn/collective.h"

namespace cnn::tool {

// Joins the launch when started by mpirun/srun (MPI is initialised then, before any thread exists), and silences
// standard output on every rank but 0. Called first thing in main.
void start_cluster(int& argc, char**& argv);
// The processes training together, or nullptr for one process.
const Collective* cluster();
// Whether this process writes files and prints: rank 0, or the only process.
bool is_writer();
// Seconds this process has spent in MPI calls so far (the exchanges, and waiting in them for the other ranks).
double cluster_seconds();
// "MPI: Open MPI v4.1.4 …" for `cnn --version`, or what the build lacks.
std::string cluster_description();
// Ends the launch: normally (every rank), or after an error on this rank: one line naming the rank and the cause on
// standard error, then MPI_Abort so that every other rank ends within seconds.
void finish_cluster();
[[noreturn]] void abort_cluster(const std::string& line, int status);

}  // namespace cnn::tool
