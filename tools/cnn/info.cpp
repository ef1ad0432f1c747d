// cnn info: every layer with its output shape, parameter count and multiply-adds per image; totals.
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "common.h"

namespace cnn::tool {
namespace {

struct InfoArgs {
  std::string model, net;
  bool cpu = false;
};

// cnn info --cpu: the CPU, the instruction set the kernels use and why, and the core's measured FMA peak.
void print_cpu() {
  const CpuInfo c = cpu_info(true);
  std::string sets;
  for (const std::string& s : c.supported) sets += (sets.empty() ? "" : ", ") + s;
  std::cout << "cpu: " << c.model << "\n"
            << "instruction sets it runs: " << sets << "\n"
            << "kernels: " << c.kernels << " (" << c.reason
            << "; CNN_ISA=avx512_16|avx512|avx2|portable chooses another)\n";
  if (c.peak_256 > 0) {
    std::cout << "FMA peak, 1 thread: " << fixed(c.peak_256, 1) << " GFLOP/s with 256-bit vectors";
    if (c.peak_512 > 0) std::cout << ", " << fixed(c.peak_512, 1) << " with 512-bit";
    std::cout << "\n";
    const bool wide = c.kernels == "avx512_16";
    if (c.peak_512 > 1.3 * c.peak_256)
      std::cout << "this core's 512-bit vectors reach " << fixed(c.peak_512 / c.peak_256, 2) << "x the 256-bit peak"
                << (wide ? "; the convolutions along rows use 16-float (512-bit) vectors\n"
                         : "; with 8-float (256-bit) vectors the kernels can reach about half of it\n");
    else if (c.peak_256 > 0)
      std::cout << "8-float (256-bit) vectors reach this core's peak" << (wide ? "" : ", and the kernels use them")
                << "\n";
  }
}

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
  if (a.cpu) {
    print_cpu();
    if (a.model.empty() && a.net.empty()) return;
    std::cout << "\n";
  }
  ModelOrNet loaded = load_model_or_net("info", a.model, a.net);
  const std::optional<Model>& m = loaded.model;
  const Network& net = loaded.network();
  std::cout << (m ? a.model + " (" + m->name +
                        (m->training ? ", " + std::to_string(m->training->epoch) + " epochs trained" : "") + ")"
                  : a.net)
            << "\ninput " << net.input_shape().sample_str()
            << (net.input_fit().empty() ? "" : " (pictures fitted by " + net.input_fit() + ")") << ", loss "
            << net.loss().kind() << "\n";
  if (!net.recipe().empty()) std::cout << "recipe: " << net.recipe().str() << "\n";
  if (m && m->training) {
    const TrainingState& t = *m->training;
    const OptimizerOptions& o = t.optimizer;
    std::cout << "trained with: batch " << t.batch << ", " << o.kind << " lr " << o.lr;
    if (o.momentum > 0) std::cout << " momentum " << o.momentum << (o.nesterov ? " nesterov" : "");
    if (o.weight_decay > 0) std::cout << ", weight decay " << o.weight_decay;
    std::cout << ", schedule " << o.schedule.str() << ", augment " << t.augment.str();
    if (t.label_smoothing > 0) std::cout << ", label smoothing " << t.label_smoothing;
    std::cout << ", seed " << t.seed << "\n";
  }
  std::cout << "\n";
  // a chain shows no input column; a graph names what each layer reads
  bool chain = true;
  for (std::size_t i = 0; i < net.size(); ++i) chain = chain && net.layer_inputs(i) == std::vector<int>{int(i) - 1};
  auto label = [&](int l) {
    if (l < 0) return std::string("input");
    return net.layer_name(std::size_t(l)).empty() ? "#" + std::to_string(l) : net.layer_name(std::size_t(l));
  };
  std::vector<std::string> whats, reads;
  std::size_t what_w = 34, reads_w = 8;
  for (std::size_t i = 0; i < net.size(); ++i) {
    const Layer& l = net.layer(i);
    std::string what = l.summary();
    if (!net.layer_name(i).empty()) what = net.layer_name(i) + ": " + what;
    if (l.learning_rate) what += " (lr " + fixed(*l.learning_rate, 4) + ")";
    std::string ins;
    for (int v : net.layer_inputs(i)) ins += (ins.empty() ? "" : ", ") + label(v);
    what_w = std::max(what_w, what.size() + 2);
    reads_w = std::max(reads_w, ins.size() + 2);
    whats.push_back(what);
    reads.push_back(ins);
  }
  if (chain) reads_w = 0;
  std::cout << std::left << std::setw(4) << "#" << std::setw(int(what_w)) << "layer";
  if (!chain) std::cout << std::setw(int(reads_w)) << "inputs";
  std::cout << std::setw(14) << "output" << std::right << std::setw(14) << "parameters" << std::setw(18)
            << "mult-adds/image"
            << "\n";
  for (std::size_t i = 0; i < net.size(); ++i) {
    const Layer& l = net.layer(i);
    std::cout << std::left << std::setw(4) << i << std::setw(int(what_w)) << whats[i];
    if (!chain) std::cout << std::setw(int(reads_w)) << reads[i];
    std::cout << std::setw(14) << l.output_shape().sample_str() << std::right << std::setw(14)
              << thousands(net.param_count(i)) << std::setw(18) << thousands(l.macs_per_sample()) << "\n";
  }
  std::cout << std::left << std::setw(int(4 + what_w + reads_w + 14)) << "total" << std::right << std::setw(14)
            << thousands(net.params().size()) << std::setw(18) << thousands(net.macs_per_sample()) << "\n";
  if (!net.buffers().empty())
    std::cout << thousands(net.buffers().size()) << " buffer values (batch normalisation's running statistics)\n";
}

void add(CLI::App& app) {
  auto a = std::make_shared<InfoArgs>();
  auto* c = app.add_subcommand("info", "Show a network's layers, output shapes, parameter counts and multiply-adds");
  c->add_option("--model", a->model, "Model file")->check(CLI::ExistingFile);
  c->add_option("--net", a->net, "Preset name or description file");
  c->add_flag("--cpu", a->cpu, "Show the CPU, the instruction set the kernels use on it and why, and its FMA peak");
  c->callback([a] { run(*a); });
}

const RegisterVerb reg("info", add);

}  // namespace
}  // namespace cnn::tool
