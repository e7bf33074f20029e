"""docs/walkthrough.ipynb runs from top to bottom in a real Jupyter kernel."""

import os

import pytest

from conftest import ROOT


@pytest.mark.spark
def test_the_walkthrough_notebook_runs_without_an_error():
    import nbclient
    import nbformat
    docs = os.path.join(ROOT, "docs")
    notebook = nbformat.read(os.path.join(docs, "walkthrough.ipynb"), as_version=4)
    # Executed in memory, in its own folder: the committed file keeps the outputs it has.
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": docs}}
                            ).execute()
    outputs = "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))
    assert "rows: 2106 = 2106" in outputs and "test accuracy:" in outputs and "line 5: class" in outputs
