"""predict.py's output lines for CSV input: "line,class,score 0,...,score k-1" per row, in input
order."""

from functools import partial

from rddnet.outputs.scores import scores


def block_lines(block, scale, theta_bc, net, header):
    """(the block's first row, its output lines as one text): "line,class,scores..." per row."""
    classes, P = scores(net, theta_bc.value, block.inputs(scale))
    lines = block.row_numbers() + 1 + header
    return block.start, "\n".join(f"{line},{c}," + ",".join(map(repr, p))
                                      for line, c, p in zip(lines.tolist(), classes.tolist(), P.tolist()))


def prediction_lines(sc, data, theta, net):
    """An RDD of the output lines, in input order: blocks sorted by their first row, since a
    compressed input is spread over the cores by a shuffle."""
    theta_bc = sc.broadcast(theta)
    texts = data.blocks.map(
        partial(block_lines, scale=data.scaling, theta_bc=theta_bc, net=net, header=data.format["header"]))
    return texts.sortByKey(numPartitions=data.blocks.getNumPartitions()).values()
