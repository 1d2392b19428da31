console.log("fastsam");
