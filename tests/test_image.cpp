// Pictures as a network's input: colour photos keep their colours, in RGB order, and are never inverted on a guess.
#include <unistd.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "helpers.h"

namespace cnn {
namespace {

// A bright photo (a light sky all round) would be "ink on paper" to the grey rule; for a colour net it stays as it is.
TEST(Image, ColourPhotosKeepTheirColoursAndAreNotInvertedAutomatically) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("cnn_photo_" + std::to_string(::getpid()) + ".png")).string();
  cv::Mat photo(32, 32, CV_8UC3, cv::Scalar(250, 230, 200));   // BGR: a light blue sky
  photo(cv::Rect(8, 8, 16, 16)).setTo(cv::Scalar(0, 0, 200));  // a red square
  ASSERT_TRUE(cv::imwrite(path, photo));
  bool inverted = true;
  const Tensor x = load_image(path, {1, 3, 32, 32}, Invert::automatic, &inverted);
  EXPECT_FALSE(inverted);
  EXPECT_NEAR(x.at(0, 0, 0, 0), 200 / 255.0, 1e-6);    // R of the sky
  EXPECT_NEAR(x.at(0, 2, 0, 0), 250 / 255.0, 1e-6);    // B of the sky
  EXPECT_NEAR(x.at(0, 0, 16, 16), 200 / 255.0, 1e-6);  // R of the square
  EXPECT_NEAR(x.at(0, 1, 16, 16), 0.0, 1e-6);
  const Tensor forced = load_image(path, {1, 3, 32, 32}, Invert::always, &inverted);
  EXPECT_TRUE(inverted);
  EXPECT_NEAR(forced.at(0, 0, 0, 0), 55 / 255.0, 1e-6);
  // the same picture for a grey net: a light border, so it is taken for ink on paper
  load_image(path, {1, 1, 32, 32}, Invert::automatic, &inverted);
  EXPECT_TRUE(inverted);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace cnn
