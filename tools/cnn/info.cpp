// cnn info: every layer with its output shape, parameter count and multiply-adds per image; totals.
#include <iomanip>
#include <iostream>

#include "common.h"

namespace cnn::tool {
namespace {

struct InfoArgs {
  std::string model, net;
};

std::string thousands(std::size_t v) {
  const std::string digits = std::to_string(v);
  std::string s;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) s += ',';
    s += digits[i];
  }
  return s;
}

void run(const InfoArgs& a) {
  if (a.model.empty() == a.net.empty()) throw UsageError("cnn info needs exactly one of --model FILE or --net NAME|FILE");
  std::optional<Model> m;
  std::optional<Network> n;
  if (!a.model.empty()) m.emplace(load_model(a.model));
  else n.emplace(load_network(a.net));
  const Network& net = m ? m->net : *n;
  std::cout << (m ? a.model + " (" + m->name + (m->training ? ", " + std::to_string(m->training->epoch) + " epochs trained" : "") + ")"
                  : a.net)
            << "\ninput " << net.input_shape().sample_str() << ", loss " << net.loss().kind() << "\n\n";
  std::cout << std::left << std::setw(4) << "#" << std::setw(34) << "layer" << std::setw(14) << "output"
            << std::right << std::setw(14) << "parameters" << std::setw(18) << "mult-adds/image" << "\n";
  for (std::size_t i = 0; i < net.size(); ++i) {
    const Layer& l = net.layer(i);
    std::string what = l.summary();
    if (l.learning_rate) what += " (lr " + fixed(*l.learning_rate, 4) + ")";
    std::cout << std::left << std::setw(4) << i << std::setw(34) << what << std::setw(14) << l.output_shape().sample_str()
              << std::right << std::setw(14) << thousands(net.param_count(i)) << std::setw(18)
              << thousands(l.macs_per_sample()) << "\n";
  }
  std::cout << std::left << std::setw(52) << "total" << std::right << std::setw(14) << thousands(net.params().size())
            << std::setw(18) << thousands(net.macs_per_sample()) << "\n";
}

void add(CLI::App& app) {
  auto a = std::make_shared<InfoArgs>();
  auto* c = app.add_subcommand("info", "Show a network's layers, output shapes, parameter counts and multiply-adds");
  c->add_option("--model", a->model, "Model file")->check(CLI::ExistingFile);
  c->add_option("--net", a->net, "Preset name or description file");
  c->callback([a] { run(*a); });
}

const RegisterVerb reg("info", add);

}  // namespace
}  // namespace cnn::tool
