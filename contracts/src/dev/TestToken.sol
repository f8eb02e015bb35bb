// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice DEV ONLY: an ERC-20 anyone can mint, used as the bond token on local chains.
contract TestToken is ERC20 {
    constructor() ERC20("Covenant Test USD", "cUSD") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
