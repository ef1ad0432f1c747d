#include "cnn/profile.h"

#include <algorithm>
#include <cstdio>

namespace cnn {

std::string profile_table(const Network& net) {
  const auto& p = net.profile();
  double total = 0.0;
  for (const auto& t : p) total += t.forward_s + t.backward_s;
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-3s %-58s %11s %11s %9s %9s %6s\n", "#", "step", "forward us", "backward us",
                "fwd GF/s", "bwd GF/s", "share");
  out += line;
  for (std::size_t s = 0; s < p.size(); ++s) {
    const auto& t = p[s];
    const double fc = double(std::max<std::uint64_t>(t.forward_calls, 1));
    const double bc = double(std::max<std::uint64_t>(t.backward_calls, 1));
    const double per_call = t.forward_calls ? double(t.samples) / fc : 0.0;  // images per forward call
    const double flop = 2.0 * double(t.macs_per_sample) * per_call;
    std::string name = t.name.size() > 58 ? t.name.substr(0, 55) + "..." : t.name;
    std::string fwd_gf = "-", bwd_gf = "-", bwd = "-";
    char buf[32];
    if (flop > 0 && t.forward_s > 0) {
      std::snprintf(buf, sizeof buf, "%.1f", flop * fc / t.forward_s * 1e-9);
      fwd_gf = buf;
    }
    if (t.backward_calls) {
      std::snprintf(buf, sizeof buf, "%.1f", 1e6 * t.backward_s / bc);
      bwd = buf;
      if (flop > 0 && t.backward_s > 0) {
        std::snprintf(buf, sizeof buf, "%.1f", 2.0 * flop * bc / t.backward_s * 1e-9);
        bwd_gf = buf;
      }
    }
    std::snprintf(line, sizeof line, "%-3s %-58s %11.1f %11s %9s %9s %5.1f%%\n",
                  s + 1 < p.size() ? std::to_string(s).c_str() : "", name.c_str(), 1e6 * t.forward_s / fc, bwd.c_str(),
                  fwd_gf.c_str(), bwd_gf.c_str(), total > 0 ? 100.0 * (t.forward_s + t.backward_s) / total : 0.0);
    out += line;
  }
  const double calls = p.empty() ? 1.0 : double(std::max<std::uint64_t>(p.back().forward_calls, 1));
  std::snprintf(line, sizeof line, "%-62s %11.1f us per training step (forward + loss + backward)\n", "total",
                1e6 * total / calls);
  out += line;
  return out;
}

}  // namespace cnn
