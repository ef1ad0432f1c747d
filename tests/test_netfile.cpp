#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "helpers.h"

namespace cnn {
namespace {

TEST(NetFile, EveryPresetRoundTrips) {
  ASSERT_FALSE(preset_names().empty());
  for (const std::string& name : preset_names()) {
    Network a = load_network(name);
    const std::string text = network_to_text(a, name);
    Network b = network_from_text(text, "round trip of " + name);
    EXPECT_EQ(network_to_text(b, name), text) << name;
    EXPECT_EQ(a.params().size(), b.params().size()) << name;
    EXPECT_EQ(a.output_shape(), b.output_shape()) << name;
  }
}

TEST(NetFile, PresetsAreTheShippedFiles) {
  for (const std::string& name : preset_names()) {
    std::ifstream f(std::string(CNN_SOURCE_DIR) + "/nets/" + name + ".json");
    ASSERT_TRUE(f) << name;
    std::stringstream ss;
    ss << f.rdbuf();
    EXPECT_EQ(ss.str(), preset_text(name));
  }
  const Network book = load_network("book6x6");
  EXPECT_EQ(book.input_shape(), (Shape{1, 1, 6, 6}));
  EXPECT_EQ(book.output_shape(), (Shape{1, 3, 1, 1}));
  EXPECT_EQ(book.loss().kind(), "squared_error");
}

// The presets against the files as this test reads them itself, not against the strings embedded from them: the
// presets are exactly nets/*.json, and each builds what its file says (the input, every layer's type and each field
// the file gives, the names and where each layer reads from, the loss), and the same network as its file loaded
// by path.
TEST(NetFile, PresetsBuildWhatTheirFilesSay) {
  std::set<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(std::string(CNN_SOURCE_DIR) + "/nets"))
    if (e.path().extension() == ".json") files.insert(e.path().stem().string());
  ASSERT_GE(files.size(), 10u);
  const std::vector<std::string> names = preset_names();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), files);
  std::size_t fields = 0;
  for (const std::string& name : files) {
    const std::string path = std::string(CNN_SOURCE_DIR) + "/nets/" + name + ".json";
    std::ifstream f(path);
    ASSERT_TRUE(f) << path;
    const nlohmann::json file = nlohmann::json::parse(f);
    const Network net = load_network(name);
    const nlohmann::json& in = file.at("input");
    ASSERT_EQ(in.size(), 3u) << name;
    EXPECT_EQ(net.input_shape(), (Shape{1, in[0].get<int>(), in[1].get<int>(), in[2].get<int>()})) << name;
    EXPECT_EQ(net.loss().kind(), file.value("loss", std::string("softmax_cross_entropy"))) << name;
    const nlohmann::json& layers = file.at("layers");
    ASSERT_EQ(net.size(), layers.size()) << name;
    std::map<std::string, int> index;  // layer name → position, for "inputs"
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const nlohmann::json& want = layers[i];
      const std::string what = name + " layer " + std::to_string(i);
      EXPECT_EQ(net.layer(i).kind(), want.at("type").get<std::string>()) << what;
      const nlohmann::json spec = net.layer(i).spec();
      for (const auto& [key, value] : want.items()) {
        if (key == "type") continue;
        if (key == "name") {
          EXPECT_EQ(net.layer_name(i), value.get<std::string>()) << what;
          index[value.get<std::string>()] = int(i);
        } else if (key == "inputs") {
          std::vector<int> from;
          for (const auto& v : value) from.push_back(index.at(v.get<std::string>()));
          EXPECT_EQ(net.layer_inputs(i), from) << what;
        } else if (key == "lr") {
          ASSERT_TRUE(net.layer(i).learning_rate.has_value()) << what;
          EXPECT_DOUBLE_EQ(*net.layer(i).learning_rate, value.get<double>()) << what;
        } else {
          ASSERT_TRUE(spec.contains(key)) << what << ": field " << key << " is not in " << spec.dump();
          if (value.is_number_float())
            EXPECT_FLOAT_EQ(spec[key].get<float>(), value.get<float>()) << what << ": " << key;
          else
            EXPECT_EQ(spec[key], value) << what << ": " << key;
        }
        ++fields;
      }
    }
    const Network from_path = load_network(path);
    EXPECT_EQ(network_to_text(from_path, name), network_to_text(net, name)) << name;
    EXPECT_EQ(from_path.params().size(), net.params().size()) << name;
  }
  EXPECT_GT(fields, 100u);
}

void expect_error(const std::string& text, const std::vector<std::string>& parts) {
  try {
    network_from_text(text, "bad.json");
    FAIL() << "accepted: " << text;
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("bad.json", 0), 0u) << m;
    for (const auto& p : parts) EXPECT_NE(m.find(p), std::string::npos) << "'" << p << "' not in: " << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << "message must be one line: " << m;
  }
}

TEST(NetFile, BadFilesNameTheLayerAndTheField) {
  const std::string in = R"("input": [1, 28, 28], )";
  expect_error("{" + in + R"("layers": [{"type": "conv2d", "filters": 6, "kernel": 5}, {"type": "warp"}]})",
               {"layer 1", "warp"});
  expect_error("{" + in + R"("layers": [{"type": "conv2d", "kernel": 5}]})", {"layer 0", "filters"});
  expect_error("{" + in + R"("layers": [{"type": "conv2d", "filters": "six", "kernel": 5}]})",
               {"layer 0", "filters", "integer"});
  expect_error("{" + in + R"("layers": [{"type": "conv2d", "filters": 6, "kernel": 5, "padding": "full"}]})",
               {"layer 0", "padding"});
  expect_error("{" + in + R"("layers": [{"type": "dense", "units": 10, "unitz": 3}]})", {"layer 0", "unitz"});
  expect_error(
      "{" + in + R"("layers": [{"type": "maxpool2d", "kernel": 2}, {"type": "conv2d", "filters": 1, "kernel": 20}]})",
      {"layer 1", "conv2d", "14x14"});
  expect_error("{" + in + R"("layers": [{"type": "dense", "units": 10}], "loss": "hinge"})", {"loss", "hinge"});
  expect_error(R"({"layers": [{"type": "relu"}]})", {"input"});
  expect_error("{" + in + R"("layers": []})", {"layers"});
  expect_error("{" + in + R"("layers": [{"type": "dense", "units": 10, "lr": -1}]})", {"layer 0", "lr"});
  expect_error("{not json", {"JSON"});
  EXPECT_THROW(load_network("no-such-net"), Error);
}

// A typo or a capital gets a "did you mean": a misspelt required field is named with the field it was meant to be,
// an unknown one with the closest the layer knows, a layer type with the closest type; and a bad value's message
// says "padding" once.
TEST(NetFile, TyposGetADidYouMean) {
  const std::string in = R"("input": [1, 28, 28], )";
  expect_error("{" + in + R"("layers": [{"type": "conv2d", "filters": 6, "kernal": 5}]})",
               {"layer 0", "missing field \"kernel\"", "\"kernal\": a typo for \"kernel\"?"});
  expect_error("{" + in + R"("layers": [{"type": "Dense", "units": 10}]})",
               {"layer 0", "unknown layer type \"Dense\" (did you mean \"dense\"?)"});
  expect_error("{" + in + R"("layers": [{"type": "dense", "units": 10, "unit": 3}]})",
               {"unknown field \"unit\" (did you mean \"units\"?)"});
  expect_error("{" + in + R"("layers": [{"type": "maxpool2d", "kernel": 2, "strides": 2}]})",
               {"unknown field \"strides\" (did you mean \"stride\"?)"});
  expect_error("{" + in + R"("layers": [{"type": "dense", "units": 10, "colour": 3}]})", {"unknown field \"colour\""});
  try {
    network_from_text("{" + in + R"("layers": [{"type": "dense", "units": 10, "colour": 3}]})", "bad.json");
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("did you mean"), std::string::npos) << "nothing is close: " << e.what();
  }
  try {
    network_from_text("{" + in + R"("layers": [{"type": "conv2d", "filters": 6, "kernel": 5, "padding": "Same"}]})",
                      "bad.json");
    FAIL() << "accepted padding \"Same\"";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("did you mean \"same\"?"), std::string::npos) << m;
    EXPECT_EQ(m.find("padding"), m.rfind("padding")) << "\"padding\" said twice: " << m;
  }
}

TEST(NetFile, PerLayerLearningRatesAreRead) {
  Network net = network_from_text(R"({"input": [1, 6, 6], "layers": [
      {"type": "conv2d", "filters": 2, "kernel": 3, "lr": 0.05}, {"type": "dense", "units": 3, "lr": 0.2}]})",
                                  "lr.json");
  ASSERT_TRUE(net.layer(0).learning_rate.has_value());
  EXPECT_DOUBLE_EQ(*net.layer(0).learning_rate, 0.05);
  EXPECT_DOUBLE_EQ(*net.layer(1).learning_rate, 0.2);
  EXPECT_NE(network_to_text(net).find("\"lr\": 0.2"), std::string::npos);
}

// Pooling windows as PyTorch's MaxPool2d takes them: "kernel", "stride" and "dilation" each one number or [rows,
// columns]; written back the same way, into ONNX as MaxPool's attributes, and a dilated average refused there.
TEST(NetFile, PoolingWindowsTakeRowsAndColumns) {
  const std::string text = R"({"input": [1, 9, 9], "layers": [
      {"type": "maxpool2d", "kernel": [2, 3], "stride": [1, 2], "dilation": [2, 1]},
      {"type": "avgpool2d", "kernel": [3, 1], "stride": 2, "padding": [1, 0, 1, 0]}]})";
  Network net = network_from_text(text, "windows.json");
  const auto& mp = dynamic_cast<const MaxPool2D&>(net.layer(0));
  EXPECT_EQ(mp.window().kw, 3);
  EXPECT_EQ(mp.window().sw, 2);
  EXPECT_EQ(mp.window().dh, 2);
  EXPECT_EQ(net.layer(0).output_shape().sample_str(), "1x7x4");
  EXPECT_EQ(net.output_shape().sample_str(), "1x4x2");
  EXPECT_EQ(net.layer(0).summary(), "maxpool2d 2x3 stride 1,2 dilation 2,1");
  const std::string back = network_to_text(net);
  EXPECT_NE(back.find("\"dilation\": [\n"), std::string::npos) << back;
  EXPECT_EQ(network_to_text(network_from_text(back, "again.json")), back);
  const OnnxImport r = import_onnx_bytes(export_onnx_bytes(net), "windows.onnx");
  EXPECT_EQ(network_to_text(r.net), back);
  Network dilated_avg =
      network_from_text(R"({"input": [1, 9, 9], "layers": [{"type": "avgpool2d", "dilation": 2}]})", "avg.json");
  try {
    export_onnx_bytes(dilated_avg);
    ADD_FAILURE() << "a dilated average pooling was exported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("only MaxPool takes dilations"), std::string::npos) << e.what();
  }
  expect_error(R"({"input": [1, 9, 9], "layers": [{"type": "maxpool2d", "kernel": [2, 0]}]})",
               {"layer 0", "kernel and stride must be positive"});
  expect_error(R"({"input": [1, 3, 3], "layers": [{"type": "maxpool2d", "kernel": 2, "dilation": 3}]})",
               {"layer 0", "smaller than the 4x4 window"});
  // a window too wide to count in 32 bits, and padding as wide: one line, no overflow
  expect_error(R"({"input": [1, 3, 3], "layers": [{"type": "maxpool2d", "kernel": 65536, "dilation": 65536}]})",
               {"layer 0", "smaller than the"});
  expect_error(
      R"({"input": [1, 3, 3], "layers": [{"type": "maxpool2d", "kernel": 2, "padding": [1, 1, 2147483647, 0]}]})",
      {"layer 0", "padding"});
}

TEST(NetFile, LoadsFromAFile) {
  const auto path = std::filesystem::temp_directory_path() / "cnn_test_net.json";
  std::ofstream(path) << preset_text("seed5");
  Network net = load_network(path.string());
  EXPECT_EQ(net.params().size(), 3898u);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace cnn
