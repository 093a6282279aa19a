# the library deploy-library.sh builds (the article's project keeps its shared code in a package like this)
from setuptools import setup

setup(name="forecasting_utils", version="0.1.0", packages=["forecasting_utils"])
