// What `cnn serve` and `cnn train --serve` share: where the page's files are, and the training monitor — a small
// web server that follows a training run and pushes its loss and accuracy to the page as server-sent events.
// Kept free of httplib's header so that train.cpp compiles as before (the server lives behind a pointer).
#pragma once

#include <memory>
#include <string>

#include "cnn/trainer.h"

namespace cnn::tool::web {

// The folder with the page (public/) and its npm packages (node_modules/): `given`, else the CNN_WEB_DIR
// environment variable, else share/cnn/web beside an installed tool's bin/, else web/ of the source tree this tool
// was built from. Throws cnn::Error naming what is
// missing (e.g. "run scripts/setup.sh" when the npm packages are not installed).
std::string web_root(const std::string& given = "");

class TrainMonitor {
 public:
  // Starts serving on host:port (port 0: any free port) in a thread of its own; `run` describes the run (net,
  // data, epochs, batches per epoch) for the page. Throws cnn::Error when the port cannot be bound.
  TrainMonitor(const std::string& host, int port, const std::string& run_description_json);
  ~TrainMonitor();  // tells connected pages the run ended, then stops the server
  TrainMonitor(const TrainMonitor&) = delete;
  TrainMonitor& operator=(const TrainMonitor&) = delete;

  int port() const;
  std::string url() const;
  // Called from the trainer's callbacks: cheap (a lock and a push), and thinned to about 20 batch points a second
  // so a fast run does not flood the page.
  void batch(const BatchReport& b);
  void epoch(const EpochReport& r);
  void finish(const std::string& outcome);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cnn::tool::web
