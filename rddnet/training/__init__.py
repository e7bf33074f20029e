"""Training: the loop on the driver, the epoch's tasks on the executors (data-parallel or model
averaging), evaluation, the update rules, the training state and the memory check."""
