//===- BufferUses.h - a buffer's uses, through its views --------*- C++ -*-===//
//
// The cuda passes fuse across bufferized ops, so they ask the same few
// questions of a buffer: which allocation or argument it views, which ops
// of a block use it (directly, through views, or inside a kernel formed
// already), and which uses only free it.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_CUDA_BUFFERUSES_H
#define GEMMA_LOWERING_CUDA_BUFFERUSES_H

#include "mlir/IR/Block.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"

namespace mlir::gemma::cuda {

/// The allocation or argument that `buffer` is a view of, through
/// view-like ops and bufferization's to_buffer/to_tensor; `buffer` itself
/// when it is neither.
Value rootBuffer(Value buffer);

/// One use of a buffer or of a view of it: the op that uses it, and that
/// op's ancestor in the block asked about (null when outside the block).
struct BufferUse {
  Operation *user;
  Operation *inBlock;
};

/// Every use of `buffer` and of its views, transitively (the views
/// themselves are not uses), each with its ancestor in `block`.
SmallVector<BufferUse> usesThroughViews(Value buffer, Block *block);

/// Whether `user` of a buffer neither reads nor writes its elements: its
/// deallocation, or its pointer taken for one (the deallocation lowering
/// takes the base buffer through extract_strided_metadata).
bool isBookkeeping(Operation *user);

/// Whether `buffer`'s direct users other than `except` only free it
/// (isBookkeeping); a view of it is a user like any other.
bool onlyFreedBesides(Value buffer, ArrayRef<Operation *> except);

} // namespace mlir::gemma::cuda

#endif // GEMMA_LOWERING_CUDA_BUFFERUSES_H
