// Recipes in net descriptions and the schedules they name: one-cycle against PyTorch's own OneCycleLR, warm-up and
// whole-run curves against their formulas, the recipe's round trip through descriptions and model files, its
// errors, and `cnn train` taking it unless a flag overrides it.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "helpers.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;

std::string shell(const std::string& cmd, int* status = nullptr) {
  FILE* p = popen(("bash -c '" + cmd + "' 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int st = pclose(p);
  if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  return out;
}

// PyTorch's OneCycleLR (max_lr 1, momentum not cycled) stepped `steps` times: the rate of every step.
std::vector<double> torch_onecycle(int steps, double pct) {
  const std::string py =
      "import torch\n"
      "p = torch.nn.Parameter(torch.zeros(1))\n"
      "o = torch.optim.SGD([p], lr=1.0)\n"
      "s = torch.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=" +
      std::to_string(steps) + ", pct_start=" + std::to_string(pct) +
      ", cycle_momentum=False)\n"
      "for _ in range(" +
      std::to_string(steps) +
      "):\n"
      "    print(repr(o.param_groups[0][\"lr\"]))\n"
      "    o.step(); s.step()\n";
  const fs::path f = fs::temp_directory_path() / ("cnn_onecycle_" + std::to_string(::getpid()) + ".py");
  std::ofstream(f) << py;
  int status = 0;
  const std::string out = shell("/usr/bin/python3 " + f.string(), &status);
  fs::remove(f);
  EXPECT_EQ(status, 0) << out;
  std::vector<double> v;
  std::istringstream in(out);
  for (double x; in >> x;) v.push_back(x);
  return v;
}

TEST(OneCycleSchedule, EveryStepIsPyTorchsOneCycleLR) {
  for (const auto& [text, pct] : {std::pair{"onecycle:3", 0.3}, std::pair{"onecycle:3:0.25", 0.25}}) {
    const LrSchedule s = parse_schedule(text);
    EXPECT_EQ(s.str(), text);
    const std::size_t batches = 7;
    const std::vector<double> want = torch_onecycle(3 * int(batches), pct);
    ASSERT_EQ(want.size(), 3 * batches);
    for (int e = 0; e < 3; ++e)
      for (std::size_t b = 0; b < batches; ++b)
        EXPECT_NEAR(s.factor(e, b, batches), want[std::size_t(e) * batches + b], 1e-12) << text << " " << e << "," << b;
  }
}

TEST(WarmupSchedule, LinearOverItsStepsThenTheScheduleItPrecedes) {
  const LrSchedule s = parse_schedule("warmup:2,cos:10");
  EXPECT_EQ(s.str(), "warmup:2,cos:10");
  const std::size_t B = 5;  // batches per epoch: warm-up spans 10 steps
  for (int e = 0; e < 4; ++e)
    for (std::size_t b = 0; b < B; ++b) {
      const double t = double(e) * B + double(b), cosine = 0.5 * (1 + std::cos(3.14159265358979323846 * e / 10));
      EXPECT_NEAR(s.factor(e, b, B), cosine * std::min(1.0, (t + 1) / 10.0), 1e-12) << e << "," << b;
    }
  const LrSchedule flat = parse_schedule("warmup:0.5");
  EXPECT_EQ(flat.str(), "warmup:0.5");
  EXPECT_NEAR(flat.factor(0, 0, 4), 0.5, 1e-12);  // 2 warm-up steps
  EXPECT_NEAR(flat.factor(0, 1, 4), 1.0, 1e-12);
  EXPECT_NEAR(flat.factor(3, 2, 4), 1.0, 1e-12);
}

TEST(WholeRunSchedule, TakesTheRunsLengthWhenTheRunStarts) {
  EXPECT_EQ(parse_schedule("cos").str(), "cos");
  EXPECT_EQ(parse_schedule("cos").resolved(40).str(), "cos:40");
  EXPECT_EQ(parse_schedule("warmup:1,onecycle").resolved(12).str(), "warmup:1,onecycle:12");
  EXPECT_EQ(parse_schedule("step:3:0.5").resolved(40).str(), "step:3:0.5");
  // a resolved curve is that of its length
  EXPECT_NEAR(parse_schedule("cos").resolved(8).factor(4), 0.5, 1e-12);
  // the trainer resolves a whole-run schedule with its epochs
  Network net = load_network("book6x6");
  Optimizer opt({.lr = 0.1, .schedule = parse_schedule("cos")});
  Trainer trainer(net, opt, {.epochs = 6});
  EXPECT_EQ(opt.options().schedule.str(), "cos:6");
  for (const char* bad : {"warmup:0,cos", "warmup:x,cos", "warmup:,cos", "warmup:1,", "warmup:1,bogus", "onecycle:",
                          "onecycle:0", "onecycle:10:1.5", "onecycle:10:0", "onecycle:x", "cosine", "cos:3:1"})
    EXPECT_THROW(parse_schedule(bad), Error) << bad;
}

const char* const kNetWithRecipe = R"({
  "input": [1, 28, 28], "fit": "crop",
  "layers": [{"type": "conv2d", "filters": 4, "kernel": 5}, {"type": "relu"}, {"type": "maxpool2d", "kernel": 2},
             {"type": "dense", "units": 10}],
  "recipe": {"epochs": 2, "batch": 25, "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": true,
             "weight_decay": 0.0001, "schedule": "warmup:1,onecycle", "augment": "crop:2", "label_smoothing": 0.1}
})";

TEST(Recipe, ReadFromTheDescriptionAndWrittenBackWithIt) {
  const Network net = network_from_text(kNetWithRecipe, "t.json");
  const Recipe& r = net.recipe();
  ASSERT_TRUE(r.epochs && r.batch && r.lr && r.momentum && r.nesterov && r.schedule && r.augment);
  EXPECT_EQ(*r.epochs, 2);
  EXPECT_EQ(*r.batch, 25);
  EXPECT_DOUBLE_EQ(*r.lr, 0.05);
  EXPECT_TRUE(*r.nesterov);
  EXPECT_EQ(*r.schedule, "warmup:1,onecycle");
  EXPECT_EQ(net.input_fit(), "crop");
  EXPECT_EQ(r.str(),
            "2 epochs, batch 25, sgd lr 0.05 momentum 0.9 nesterov, weight decay 0.0001, schedule warmup:1,onecycle, "
            "augment crop:2, label smoothing 0.1");
  // through the text a model file holds
  const Network again = network_from_text(network_to_text(net, "t"), "again");
  EXPECT_EQ(again.recipe().to_json(), r.to_json());
  EXPECT_EQ(again.input_fit(), "crop");
  // a net without either writes neither
  const std::string plain = network_to_text(load_network("seed5"));
  EXPECT_EQ(plain.find("recipe"), std::string::npos);
  EXPECT_EQ(plain.find("\"fit\""), std::string::npos);
}

TEST(Recipe, EveryBadSettingIsOneLineNamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"("recipe": [1])", "field \"recipe\" must be an object"},
      {R"("recipe": {"epoch": 3})", "unknown setting \"epoch\""},
      {R"("recipe": {"epochs": 0})", "\"epochs\" must be an integer"},
      {R"("recipe": {"batch": 2.5})", "\"batch\" must be an integer"},
      {R"("recipe": {"optimizer": "rmsprop"})", "\"optimizer\" must be \"sgd\" or \"adam\""},
      {R"("recipe": {"lr": 0})", "\"lr\" must be a positive number"},
      {R"("recipe": {"momentum": 1})", "\"momentum\" must be a number in [0, 1)"},
      {R"("recipe": {"nesterov": 1})", "\"nesterov\" must be true or false"},
      {R"("recipe": {"nesterov": true})", "\"nesterov\" needs a \"momentum\" above 0"},
      {R"("recipe": {"schedule": "cos:x"})", "\"schedule\": learning-rate schedule: expected"},
      {R"("recipe": {"augment": "rotate"})", "\"augment\": augmentation: expected"},
      {R"("recipe": {"label_smoothing": "a"})", "\"label_smoothing\" must be a number"},
      {R"("fit": "zoom")", "field \"fit\": input fit: expected crop, stretch or pad"},
      {R"("fit": 3)", "field \"fit\" must be"},
  };
  for (const auto& [field, message] : cases) {
    const std::string text =
        std::string(R"({"input": [1, 4, 4], "layers": [{"type": "dense", "units": 2}], )") + field + "}";
    try {
      network_from_text(text, "bad.json");
      ADD_FAILURE() << field << ": accepted";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("bad.json: ", 0), 0u) << what;
      EXPECT_NE(what.find(message), std::string::npos) << field << " → " << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
}

TEST(Recipe, PresetsForColourCarryTheirs) {
  for (const char* name : {"resnet8", "resnet20", "alexnet-cifar"}) {
    const Network net = load_network(name);
    const Recipe& r = net.recipe();
    ASSERT_TRUE(r.epochs && r.batch && r.schedule && r.augment) << name;
    EXPECT_EQ(*r.batch, 128) << name;
    EXPECT_EQ(*r.augment, "flip,crop:4") << name;
    EXPECT_EQ(net.layer(0).kind(), "normalize") << name;
  }
  EXPECT_TRUE(load_network("seed5").recipe().empty());  // the seeds' nets train the seeds' way
}

TEST(RecipeCli, TrainTakesTheRecipeUnlessAFlagOverridesIt) {
  const std::string digits = std::string(CNN_BINARY_DIR) + "/data/mnist-digits";
  ASSERT_TRUE(fs::exists(digits + "/train-images-idx3-ubyte")) << "run scripts/test.sh: it prepares " << digits;
  const fs::path dir = fs::temp_directory_path() / ("cnn_recipe_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "net.json") << kNetWithRecipe;
  const std::string cnn = std::string(CNN_BINARY_DIR) + "/cnn";
  const std::string common = " train --net " + (dir / "net.json").string() + " --data " + digits +
                             " --train-limit 200 --test-limit 50 --threads 1 --quiet";
  int status = 0;
  std::string out = shell(cnn + common + " --out " + (dir / "a.cnn").string(), &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("the net's recipe sets --epochs --batch --optimizer --lr --momentum --nesterov --weight-decay "
                     "--lr-decay --augment --label-smoothing"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("epoch 2/2"), std::string::npos) << out;
  std::string info = shell(cnn + " info --model " + (dir / "a.cnn").string(), &status);
  EXPECT_NE(info.find("trained with: batch 25, sgd lr 0.05 momentum 0.9 nesterov, weight decay 0.0001, schedule "
                      "warmup:1,onecycle:2, augment shift:2, label smoothing 0.1"),
            std::string::npos)
      << info;
  EXPECT_NE(info.find("recipe: 2 epochs"), std::string::npos) << info;
  // flags win over the recipe, the rest still comes from it
  out = shell(cnn + common + " --batch 40 --epochs 1 --lr-decay none --out " + (dir / "b.cnn").string(), &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("the net's recipe sets --optimizer --lr --momentum"), std::string::npos) << out;
  info = shell(cnn + " info --model " + (dir / "b.cnn").string(), &status);
  EXPECT_NE(info.find("trained with: batch 40, sgd lr 0.05 momentum 0.9 nesterov, weight decay 0.0001, schedule none"),
            std::string::npos)
      << info;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cnn
