"""rddnet: a fully connected network trained with map/reduce over PySpark RDDs. The package root
holds what every layer uses (errors, the Hadoop file system, the SparkContext, a script's run,
row sampling, shipping the code) and the option table and run settings that bring the layers
together; inputs/, training/ and outputs/ are the layers. Nothing is imported here, so that an
executor unpickling a small record imports only what that record needs."""
