//===- ModelBuilder.cpp - emit a Gemma 3 text model as gemma IR -----------===//

#include "frontend/ModelBuilder.h"

#include "dialect/GemmaOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
namespace ir = mlir::gemma;

namespace gemma {
namespace {

// The per-layer tensors, in the order the layer functions take them.
const char *const kLayerTensors[] = {"input_layernorm",
                                     "self_attn.q_proj",
                                     "self_attn.k_proj",
                                     "self_attn.v_proj",
                                     "self_attn.q_norm",
                                     "self_attn.k_norm",
                                     "self_attn.o_proj",
                                     "post_attention_layernorm",
                                     "pre_feedforward_layernorm",
                                     "mlp.gate_proj",
                                     "mlp.up_proj",
                                     "mlp.down_proj",
                                     "post_feedforward_layernorm"};
constexpr size_t kNumLayerTensors = std::size(kLayerTensors);

std::string layerTensorName(int64_t layer, const char *tensor) {
  return "model.layers." + std::to_string(layer) + "." + tensor + ".weight";
}

} // namespace

int64_t prefillChunk(int64_t requested, int64_t maxContext) {
  return std::min(requested, maxContext);
}

int64_t localCacheSlots(const TextConfig &config, int64_t maxContext,
                        int64_t requestedChunk) {
  return std::max(
      config.slidingWindow,
      std::min(config.slidingWindow + prefillChunk(requestedChunk, maxContext),
               maxContext));
}

namespace {
class Builder {
public:
  Builder(MLIRContext &context, const ModelConfig &config,
          const BuildOptions &options)
      : ctx(context), cfg(config.text), opts(options), b(&context),
        loc(b.getUnknownLoc()) {}

  OwningOpRef<ModuleOp> build() {
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    module->getOperation()->setAttr(ir::kMaxContextAttr,
                                    b.getI64IntegerAttr(opts.maxContext));
    module->getOperation()->setAttr(
        ir::kPrefillChunkAttr,
        b.getI64IntegerAttr(prefillChunk(opts.prefillChunk, opts.maxContext)));
    module->getOperation()->setAttr("gemma.vocab_size",
                                    b.getI64IntegerAttr(cfg.vocabSize));
    // Each layer kind's RoPE, which the verifier holds every rope op to.
    module->getOperation()->setAttr(ir::kRopeLocalAttr, rope(false));
    module->getOperation()->setAttr(ir::kRopeGlobalAttr, rope(true));
    module->getOperation()->setAttr(
        ir::kMatmulInputsAttr, TypeAttr::get(elementType(opts.matmulInputs)));
    b.setInsertionPointToEnd(module->getBody());
    declareWeights();
    declareCaches();
    func::FuncOp local = buildLayerFunction(/*global=*/false);
    func::FuncOp global = buildLayerFunction(/*global=*/true);
    buildEntry("prefill", ShapedType::kDynamic, local, global);
    // Generation needs only the last prompt token's logits: the output
    // projection of the other rows would cost a vocabulary-sized matvec each.
    buildEntry("prefill_last", ShapedType::kDynamic, local, global,
               /*lastRowOnly=*/true);
    buildEntry("decode", 1, local, global);
    return module;
  }

private:
  Type elementType(DType dtype) {
    switch (dtype) {
    case DType::BF16:
      return b.getBF16Type();
    case DType::F16:
      return b.getF16Type();
    case DType::F32:
      return b.getF32Type();
    }
    return {};
  }

  RankedTensorType weightType(const std::string &name,
                              ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, elementType(opts.weightDtypeOf(name)));
  }

  RankedTensorType act(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, b.getF32Type());
  }

  void declareWeight(const std::string &name, ArrayRef<int64_t> shape) {
    // Offsets come later, from gemma-layout-weights.
    ir::WeightDeclOp::create(b, loc, b.getStringAttr(name),
                             TypeAttr::get(weightType(name, shape)),
                             /*offset=*/IntegerAttr(), /*parts=*/ArrayAttr());
    weightTypes[name] = weightType(name, shape);
  }

  void declareWeights() {
    int64_t h = cfg.hiddenSize, inter = cfg.intermediateSize;
    int64_t qDim = cfg.numHeads * cfg.headDim;
    int64_t kvDim = cfg.numKvHeads * cfg.headDim;
    declareWeight("model.embed_tokens.weight", {cfg.vocabSize, h});
    const SmallVector<int64_t, 2> shapes[] = {
        {h},           {qDim, h},  {kvDim, h}, {kvDim, h}, {cfg.headDim},
        {cfg.headDim}, {h, qDim},  {h},        {h},        {inter, h},
        {inter, h},    {h, inter}, {h}};
    static_assert(std::size(shapes) == kNumLayerTensors);
    for (int64_t layer = 0; layer < cfg.numLayers; ++layer)
      for (size_t t = 0; t < kNumLayerTensors; ++t)
        declareWeight(layerTensorName(layer, kLayerTensors[t]), shapes[t]);
    declareWeight("model.norm.weight", {h});
    if (!cfg.tieWordEmbeddings)
      declareWeight("lm_head.weight", {cfg.vocabSize, h});
  }

  ir::KVCacheType cacheType(bool global) {
    auto layer = global ? ir::AttentionAttr::get(
                              &ctx, ir::AttentionKind::Global, std::nullopt)
                        : ir::AttentionAttr::get(&ctx, ir::AttentionKind::Local,
                                                 cfg.slidingWindow);
    int64_t capacity =
        global ? opts.maxContext
               : localCacheSlots(cfg, opts.maxContext, opts.prefillChunk);
    return ir::KVCacheType::get(&ctx, layer, capacity, cfg.numKvHeads,
                                cfg.headDim, elementType(opts.kvDtype));
  }

  void declareCaches() {
    for (int64_t layer = 0; layer < cfg.numLayers; ++layer)
      ir::CacheDeclOp::create(
          b, loc, b.getStringAttr("kv." + std::to_string(layer)),
          TypeAttr::get(cacheType(cfg.layerIsGlobal[layer])),
          /*offset=*/IntegerAttr());
  }

  Value rmsNorm(Value x, Value w) {
    return ir::RMSNormOp::create(b, loc, x.getType(), x, w,
                                 b.getF32FloatAttr(cfg.rmsNormEps));
  }

  Value linear(Value x, Value w, int64_t outFeatures) {
    auto xType = cast<RankedTensorType>(x.getType());
    SmallVector<int64_t> shape(xType.getShape());
    shape.back() = outFeatures;
    return ir::LinearOp::create(b, loc, act(shape), x, w, Value());
  }

  Value splitHeads(Value x, Value tokens, int64_t heads) {
    auto type = act({ShapedType::kDynamic, heads, cfg.headDim});
    return tensor::ExpandShapeOp::create(
        b, loc, type, x, ArrayRef<ReassociationIndices>{{0}, {1, 2}},
        ArrayRef<OpFoldResult>{tokens, b.getIndexAttr(heads),
                               b.getIndexAttr(cfg.headDim)});
  }

  ir::RopeAttr rope(bool global) {
    const RopeConfig &r = global ? cfg.ropeGlobal : cfg.ropeLocal;
    return ir::RopeAttr::get(&ctx, r.theta, r.factor);
  }

  ir::MaskAttr mask(bool global) {
    if (global)
      return ir::MaskAttr::get(&ctx, ir::MaskKind::Causal, false);
    return ir::MaskAttr::get(&ctx, ir::MaskKind::SlidingWindow, false);
  }

  /// func @<kind>_layer(%x: tensor<?xH>, %pos, %cache, weights...) ->
  /// tensor<?xH>
  func::FuncOp buildLayerFunction(bool global) {
    int64_t h = cfg.hiddenSize;
    auto xType = act({ShapedType::kDynamic, h});
    SmallVector<Type> inputs = {xType, b.getIndexType(), cacheType(global)};
    for (size_t t = 0; t < kNumLayerTensors; ++t)
      inputs.push_back(weightTypes.at(layerTensorName(0, kLayerTensors[t])));
    auto fn =
        func::FuncOp::create(b, loc, global ? "global_layer" : "local_layer",
                             b.getFunctionType(inputs, {xType}));
    fn.setPrivate();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(fn.addEntryBlock());
    Value x = fn.getArgument(0), pos = fn.getArgument(1),
          cache = fn.getArgument(2);
    auto w = [&](size_t i) { return fn.getArgument(3 + i); };

    Value tokens = tensor::DimOp::create(b, loc, x, 0);
    int64_t qDim = cfg.numHeads * cfg.headDim;
    int64_t kvDim = cfg.numKvHeads * cfg.headDim;
    Value normed = rmsNorm(x, w(0));
    Value q = splitHeads(linear(normed, w(1), qDim), tokens, cfg.numHeads);
    Value k = splitHeads(linear(normed, w(2), kvDim), tokens, cfg.numKvHeads);
    Value v = splitHeads(linear(normed, w(3), kvDim), tokens, cfg.numKvHeads);
    q = rmsNorm(q, w(4));
    k = rmsNorm(k, w(5));
    q = ir::RopeOp::create(b, loc, q.getType(), q, pos, rope(global));
    k = ir::RopeOp::create(b, loc, k.getType(), k, pos, rope(global));
    Value attn = ir::AttentionOp::create(
        b, loc, q.getType(), q, k, v, cache, pos, /*imageGroups=*/Value(),
        mask(global),
        b.getF32FloatAttr(1.0 / std::sqrt(cfg.queryPreAttnScalar)),
        /*softcap=*/FloatAttr());
    ir::CacheUpdateOp::create(b, loc, cache, pos, k, v);
    Value merged = tensor::CollapseShapeOp::create(
        b, loc, act({ShapedType::kDynamic, qDim}), attn,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}});
    Value attnOut = rmsNorm(linear(merged, w(6), h), w(7));
    Value residual = ir::AddOp::create(b, loc, x, attnOut);
    Value mlpIn = rmsNorm(residual, w(8));
    Value mlp = ir::MLPOp::create(b, loc, xType, mlpIn, w(9), w(10), w(11));
    Value out = ir::AddOp::create(b, loc, residual, rmsNorm(mlp, w(12)));
    func::ReturnOp::create(b, loc, out);
    return fn;
  }

  Value weight(const std::string &name) {
    return ir::WeightOp::create(b, loc, weightTypes.at(name), name);
  }

  /// func @<name>(%ids: tensor<NxI32>, %pos: index) -> tensor<NxVxf32>,
  /// or -> tensor<1xVxf32>, the last row's logits, with `lastRowOnly`.
  void buildEntry(StringRef name, int64_t tokens, func::FuncOp local,
                  func::FuncOp global, bool lastRowOnly = false) {
    auto idsType = RankedTensorType::get({tokens}, b.getI32Type());
    auto logitsType = act({lastRowOnly ? 1 : tokens, cfg.vocabSize});
    auto fn = func::FuncOp::create(
        b, loc, name,
        b.getFunctionType({idsType, b.getIndexType()}, {logitsType}));
    fn->setAttr("gemma.entry", b.getUnitAttr());
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(fn.addEntryBlock());
    Value ids = fn.getArgument(0), pos = fn.getArgument(1);
    Value table = weight("model.embed_tokens.weight");
    // Computing in f32, the embedding scale is the exact sqrt(hidden).
    Value x = ir::EmbedOp::create(
        b, loc, act({tokens, cfg.hiddenSize}), ids, table,
        b.getF32FloatAttr(std::sqrt(static_cast<double>(cfg.hiddenSize))));
    auto dynamicX = act({ShapedType::kDynamic, cfg.hiddenSize});
    if (x.getType() != dynamicX)
      x = tensor::CastOp::create(b, loc, dynamicX, x);
    for (int64_t layer = 0; layer < cfg.numLayers; ++layer) {
      bool isGlobal = cfg.layerIsGlobal[layer];
      SmallVector<Value> args = {x, pos};
      args.push_back(ir::CacheOp::create(b, loc, cacheType(isGlobal),
                                         "kv." + std::to_string(layer)));
      for (size_t t = 0; t < kNumLayerTensors; ++t)
        args.push_back(weight(layerTensorName(layer, kLayerTensors[t])));
      x = func::CallOp::create(b, loc, isGlobal ? global : local, args)
              .getResult(0);
    }
    if (x.getType() != act({tokens, cfg.hiddenSize}))
      x = tensor::CastOp::create(b, loc, act({tokens, cfg.hiddenSize}), x);
    if (lastRowOnly) {
      Value rows = tensor::DimOp::create(b, loc, x, 0);
      Value last = arith::SubIOp::create(
          b, loc, rows, arith::ConstantIndexOp::create(b, loc, 1));
      x = tensor::ExtractSliceOp::create(
          b, loc, act({1, cfg.hiddenSize}), x,
          ArrayRef<OpFoldResult>{last, b.getIndexAttr(0)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1),
                                 b.getIndexAttr(cfg.hiddenSize)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
    }
    Value normed = rmsNorm(x, weight("model.norm.weight"));
    FloatAttr softcap = cfg.finalLogitSoftcap
                            ? b.getF32FloatAttr(*cfg.finalLogitSoftcap)
                            : FloatAttr();
    Value head = cfg.tieWordEmbeddings ? table : weight("lm_head.weight");
    Value logits =
        ir::LogitsOp::create(b, loc, logitsType, normed, head, softcap);
    func::ReturnOp::create(b, loc, logits);
  }

  MLIRContext &ctx;
  const TextConfig &cfg;
  const BuildOptions &opts;
  OpBuilder b;
  Location loc;
  std::map<std::string, RankedTensorType> weightTypes;
};

} // namespace

OwningOpRef<ModuleOp> buildTextModel(MLIRContext &context,
                                     const ModelConfig &config,
                                     const BuildOptions &options) {
  context.loadDialect<ir::GemmaDialect, func::FuncDialect,
                      tensor::TensorDialect, arith::ArithDialect>();
  return Builder(context, config, options).build();
}

} // namespace gemma
