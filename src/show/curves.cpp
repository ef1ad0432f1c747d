// Training curves: the metrics file `cnn train --metrics` writes (CSV or JSON lines), read back and drawn as an
// SVG with two panels — loss (train and test) and test accuracy, per epoch. Lines are drawn, so SVG: sharp at
// any size and readable as text.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cnn/error.h"
#include "cnn/model.h"
#include "cnn/show.h"

namespace cnn::show {

namespace {

const char* const kColumns[] = {"epoch", "train_loss", "test_loss", "test_accuracy", "seconds", "images_per_second"};

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) {
    while (!cell.empty() && (cell.back() == '\r' || cell.back() == ' ')) cell.pop_back();
    while (!cell.empty() && cell.front() == ' ') cell.erase(cell.begin());
    cells.push_back(cell);
  }
  return cells;
}

double parse_number(const std::string& s, const std::string& where) {
  try {
    std::size_t used = 0;
    const double v = std::stod(s, &used);
    if (used != s.size()) throw std::invalid_argument(s);
    return v;
  } catch (const std::exception&) {
    throw Error(where + ": '" + s + "' is not a number");
  }
}

void assign(EpochMetrics& m, const std::string& key, double v) {
  if (key == "epoch")
    m.epoch = int(v);
  else if (key == "train_loss")
    m.train_loss = v;
  else if (key == "test_loss")
    m.test_loss = v;
  else if (key == "test_accuracy")
    m.test_accuracy = v;
  else if (key == "seconds")
    m.seconds = v;
  else if (key == "images_per_second")
    m.images_per_second = v;
}

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<')
      o += "&lt;";
    else if (c == '>')
      o += "&gt;";
    else if (c == '&')
      o += "&amp;";
    else if (c == '"')
      o += "&quot;";
    else
      o += c;
  }
  return o;
}

std::string num(double v, int decimals = 1) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// "Nice" tick spacing (1, 2 or 5 × 10^k) giving about `count` ticks over [lo, hi].
double tick_step(double lo, double hi, int count) {
  const double raw = (hi - lo) / count;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

struct Series {
  std::string name, colour;
  std::vector<std::pair<double, double>> points;
  bool dashed = false;
};

// One panel: axes with ticks, every series as a polyline with dots, a legend; at (x0, y0), w×h pixels.
std::string panel(double x0, double y0, double w, double h, const std::string& title, const std::string& y_label,
                  const std::vector<Series>& series, double y_lo, double y_hi, double x_lo, double x_hi, bool percent) {
  std::ostringstream s;
  const double l = x0 + 56, r = x0 + w - 12, t = y0 + 34, b = y0 + h - 42;
  auto X = [&](double v) { return l + (v - x_lo) / (x_hi - x_lo) * (r - l); };
  auto Y = [&](double v) { return b - (v - y_lo) / (y_hi - y_lo) * (b - t); };
  s << "<text x=\"" << num(x0 + w / 2) << "\" y=\"" << num(y0 + 18)
    << "\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">" << esc(title) << "</text>\n";
  s << "<rect x=\"" << num(l) << "\" y=\"" << num(t) << "\" width=\"" << num(r - l) << "\" height=\"" << num(b - t)
    << "\" fill=\"#fcfcfc\" stroke=\"#999\"/>\n";
  const double ys = tick_step(y_lo, y_hi, 5);
  for (double v = std::ceil(y_lo / ys) * ys; v <= y_hi + 1e-9; v += ys) {
    s << "<line x1=\"" << num(l) << "\" x2=\"" << num(r) << "\" y1=\"" << num(Y(v)) << "\" y2=\"" << num(Y(v))
      << "\" stroke=\"#e4e4e4\"/>\n";
    s << "<text x=\"" << num(l - 6) << "\" y=\"" << num(Y(v) + 4) << "\" text-anchor=\"end\" font-size=\"11\">"
      << (percent ? num(100 * v, ys * 100 < 1 ? 1 : 0) + "%" : num(v, ys < 0.1 ? 2 : 1)) << "</text>\n";
  }
  const double xs = std::max(1.0, tick_step(x_lo, x_hi, 8));
  for (double v = std::ceil(x_lo / xs) * xs; v <= x_hi + 1e-9; v += xs) {
    s << "<line x1=\"" << num(X(v)) << "\" x2=\"" << num(X(v)) << "\" y1=\"" << num(b) << "\" y2=\"" << num(b + 4)
      << "\" stroke=\"#999\"/>\n";
    s << "<text x=\"" << num(X(v)) << "\" y=\"" << num(b + 16) << "\" text-anchor=\"middle\" font-size=\"11\">"
      << num(v, 0) << "</text>\n";
  }
  s << "<text x=\"" << num((l + r) / 2) << "\" y=\"" << num(b + 34)
    << "\" text-anchor=\"middle\" font-size=\"12\">epoch</text>\n";
  s << "<text x=\"" << num(x0 + 14) << "\" y=\"" << num((t + b) / 2)
    << "\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 " << num(x0 + 14) << " " << num((t + b) / 2)
    << ")\">" << esc(y_label) << "</text>\n";
  int legend_row = 0;
  for (const Series& se : series) {
    if (se.points.empty()) continue;
    s << "<polyline fill=\"none\" stroke=\"" << se.colour << "\" stroke-width=\"2\""
      << (se.dashed ? " stroke-dasharray=\"6 4\"" : "") << " points=\"";
    for (auto [x, y] : se.points) s << num(X(x), 2) << "," << num(Y(y), 2) << " ";
    s << "\"/>\n";
    for (auto [x, y] : se.points)
      s << "<circle cx=\"" << num(X(x), 2) << "\" cy=\"" << num(Y(y), 2) << "\" r=\"3\" fill=\"" << se.colour
        << "\"><title>" << esc(se.name) << " epoch " << num(x, 0) << ": "
        << (percent ? num(100 * y, 2) + "%" : num(y, 4)) << "</title></circle>\n";
    const double ly = t + 14 + 16 * legend_row++;
    s << "<line x1=\"" << num(r - 120) << "\" x2=\"" << num(r - 100) << "\" y1=\"" << num(ly - 4) << "\" y2=\""
      << num(ly - 4) << "\" stroke=\"" << se.colour << "\" stroke-width=\"2\""
      << (se.dashed ? " stroke-dasharray=\"6 4\"" : "") << "/>\n";
    s << "<text x=\"" << num(r - 95) << "\" y=\"" << num(ly) << "\" font-size=\"12\">" << esc(se.name) << "</text>\n";
  }
  return s.str();
}

}  // namespace

std::vector<EpochMetrics> read_metrics(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(path + ": cannot open the metrics file");
  std::vector<EpochMetrics> out;
  std::string line;
  std::vector<std::string> header;
  int line_no = 0;
  bool json = false, decided = false;
  while (std::getline(f, line)) {
    ++line_no;
    const std::string where = path + ":" + std::to_string(line_no);
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    if (!decided) {
      json = line[first] == '{';
      decided = true;
      if (!json) {
        header = split_csv(line);
        for (const char* col : kColumns)
          if (std::find(header.begin(), header.end(), col) == header.end())
            throw Error(where + ": the header has no column '" + col + "' (expected " +
                        "epoch,train_loss,test_loss,test_accuracy,seconds,images_per_second)");
        continue;
      }
    }
    EpochMetrics m;
    if (json) {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const std::exception&) {
        throw Error(where + ": not a JSON object");
      }
      for (const char* col : kColumns) {
        if (!j.contains(col) || !j[col].is_number()) throw Error(where + ": no number '" + col + "'");
        assign(m, col, j[col].get<double>());
      }
    } else {
      const auto cells = split_csv(line);
      if (cells.size() != header.size())
        throw Error(where + ": " + std::to_string(cells.size()) + " cells but the header has " +
                    std::to_string(header.size()));
      for (std::size_t i = 0; i < cells.size(); ++i)
        assign(m, header[i], parse_number(cells[i], where + " (" + header[i] + ")"));
    }
    out.push_back(m);
  }
  if (out.empty()) throw Error(path + ": no epochs in the metrics file");
  return out;
}

std::vector<EpochMetrics> last_run(const std::vector<EpochMetrics>& metrics, int* runs) {
  std::vector<EpochMetrics> run;
  int n = 0;
  for (const auto& m : metrics) {
    if (run.empty() || m.epoch <= 1) {
      ++n;
      run.clear();
    } else {
      while (!run.empty() && run.back().epoch >= m.epoch) run.pop_back();
    }
    run.push_back(m);
  }
  if (runs) *runs = n;
  return run;
}

std::string curves_svg(const std::vector<EpochMetrics>& metrics, const std::string& title) {
  if (metrics.empty()) throw Error("show curves: no epochs to draw");
  Series train_loss{"train loss", "#1f77b4", {}}, test_loss{"test loss", "#d62728", {}, true},
      test_acc{"test accuracy", "#2ca02c", {}};
  double x_lo = metrics.front().epoch, x_hi = x_lo, loss_hi = 0, acc_lo = 1;
  for (const auto& m : metrics) {
    x_lo = std::min(x_lo, double(m.epoch));
    x_hi = std::max(x_hi, double(m.epoch));
    for (double v : {m.train_loss, m.test_loss})
      if (std::isfinite(v)) loss_hi = std::max(loss_hi, v);
    if (std::isfinite(m.train_loss)) train_loss.points.push_back({m.epoch, m.train_loss});
    if (std::isfinite(m.test_loss)) test_loss.points.push_back({m.epoch, m.test_loss});
    if (std::isfinite(m.test_accuracy)) {
      test_acc.points.push_back({m.epoch, m.test_accuracy});
      acc_lo = std::min(acc_lo, m.test_accuracy);
    }
  }
  if (x_hi - x_lo < 1) {  // one epoch: give the single dot some room either side
    x_lo -= 0.5;
    x_hi += 0.5;
  }
  if (loss_hi <= 0) loss_hi = 1;
  acc_lo = std::max(0.0, std::floor(acc_lo * 10 - 0.5) / 10);  // a margin below the worst epoch, to a tenth
  const double W = 960, H = 400;
  std::ostringstream s;
  s << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H + 30 << "\" viewBox=\"0 0 " << W
    << " " << H + 30 << "\" font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s << "<text x=\"" << W / 2 << "\" y=\"20\" text-anchor=\"middle\" font-size=\"16\">" << esc(title) << "</text>\n";
  s << panel(0, 30, W / 2, H, "Loss per epoch", "mean loss", {train_loss, test_loss}, 0, loss_hi * 1.08, x_lo, x_hi,
             false);
  s << panel(W / 2, 30, W / 2, H, "Accuracy per epoch", "test accuracy", {test_acc}, acc_lo, 1.0, x_lo, x_hi, true);
  s << "</svg>\n";
  return s.str();
}

void write_curves(const std::vector<EpochMetrics>& metrics, const std::string& path, const std::string& title) {
  write_file_atomically(path, curves_svg(metrics, title));
}

}  // namespace cnn::show
