// The confusion matrix as a picture: rows are the true classes, columns the predicted ones; each cell shaded by
// its share of its row (so a rare class's mistakes show as clearly as a common one's) with the count printed.
#include <algorithm>
#include <cstdio>
#include <numeric>

#include "cnn/error.h"
#include "draw.h"

namespace cnn::show {

void write_confusion(const std::vector<std::vector<std::size_t>>& confusion, const std::vector<std::string>& names,
                     const std::string& path) {
  const int K = int(confusion.size());
  if (K == 0) throw Error(path + ": the confusion matrix is empty");
  for (const auto& row : confusion)
    if (int(row.size()) != K) throw Error(path + ": the confusion matrix is not square");
  std::size_t total = 0, right = 0, biggest = 0;
  for (int t = 0; t < K; ++t)
    for (int p = 0; p < K; ++p) {
      total += confusion[t][p];
      biggest = std::max(biggest, confusion[t][p]);
      if (t == p) right += confusion[t][p];
    }
  auto percent = [](double share) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.1f%%", 100 * share);
    return std::string(buf);
  };
  auto label = [&](int k) { return std::to_string(k) + (k < int(names.size()) ? " " + names[std::size_t(k)] : ""); };
  int name_w = 0;
  for (int k = 0; k < K; ++k) name_w = std::max(name_w, draw::text_width(label(k)));
  const int cell = std::max(22, draw::text_width(std::to_string(biggest), 0.38) + 10);
  const int left = name_w + 20, top = 74, right_margin = 70;
  cv::Mat img = draw::canvas(std::max(left + K * cell + right_margin, 460), top + K * cell + 34);
  const double accuracy = total ? double(right) / double(total) : 0.0;
  draw::text(img, "confusion matrix: " + std::to_string(total) + " images, accuracy " + percent(accuracy), 10, 20, 0.5);
  draw::text(img, "rows: true class, columns: predicted class; shade = share of the row", 10, 40);
  for (int p = 0; p < K; ++p)
    draw::text(img, std::to_string(p), left + p * cell + cell / 2 - draw::text_width(std::to_string(p), 0.38) / 2,
               top - 6, 0.38, draw::kGrey);
  for (int t = 0; t < K; ++t) {
    const std::size_t row_total = std::accumulate(confusion[t].begin(), confusion[t].end(), std::size_t(0));
    const int y = top + t * cell;
    draw::text(img, label(t), 8, y + cell / 2 + 4, 0.4);
    for (int p = 0; p < K; ++p) {
      const double share = row_total ? double(confusion[t][p]) / double(row_total) : 0.0;
      const cv::Rect r(left + p * cell, y, cell, cell);
      cv::rectangle(img, r, draw::bgr(sequential(share)), cv::FILLED);
      cv::rectangle(img, r, t == p ? draw::kBlack : cv::Scalar(225, 225, 225), 1);
      if (confusion[t][p] == 0) continue;
      const std::string n = std::to_string(confusion[t][p]);
      draw::text(img, n, r.x + (cell - draw::text_width(n, 0.38)) / 2, r.y + cell / 2 + 4, 0.38,
                 share > 0.5 ? draw::kWhite : draw::kBlack);
    }
    draw::text(img, percent(row_total ? double(confusion[t][t]) / double(row_total) : 0.0), left + K * cell + 8,
               y + cell / 2 + 4, 0.38, draw::kGrey);
  }
  draw::text(img, "per-class accuracy at the right of each row", 10, top + K * cell + 22, 0.38, draw::kGrey);
  draw::save_png(img, path);
}

}  // namespace cnn::show
