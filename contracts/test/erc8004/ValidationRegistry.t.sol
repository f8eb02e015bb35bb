// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TestBase} from "../utils/TestBase.sol";
import {IdentityRegistry} from "../../src/erc8004/IdentityRegistry.sol";
import {ValidationRegistry} from "../../src/erc8004/ValidationRegistry.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

contract ValidationRegistryTest is TestBase {
    IdentityRegistry internal identity;
    ValidationRegistry internal validation;

    address internal owner = address(0xA11CE);
    address internal operator = address(0x0BE2);
    address internal validator = address(0x7A1D);
    address internal validator2 = address(0x7A1E);
    address internal mallory = address(0xBAD);
    uint256 internal agentId;

    bytes32 internal constant H1 = keccak256("covenant:action/1-000000000001?validator=0x7a1d");
    bytes32 internal constant H2 = keccak256("covenant:action/1-000000000002?validator=0x7a1d");

    function setUp() public {
        vm.warp(1_700_000_000);
        identity = new IdentityRegistry();
        validation = new ValidationRegistry(address(identity));
        vm.prank(owner);
        agentId = identity.register("ipfs://agent");
    }

    function _request(address by, address v, bytes32 h) internal {
        vm.prank(by);
        validation.validationRequest(v, agentId, "covenant:action/x", h);
    }

    function _respond(address by, bytes32 h, uint8 response, string memory tag) internal {
        vm.prank(by);
        validation.validationResponse(h, response, "covenant:dispute/1", keccak256("evidence"), tag);
    }

    function _eqStr(string memory a, string memory b) internal pure returns (bool) {
        return keccak256(bytes(a)) == keccak256(bytes(b));
    }

    function test_constructorAndIdentity() public {
        assertEq(validation.getIdentityRegistry(), address(identity));
        vm.expectRevert(ValidationRegistry.ZeroAddress.selector);
        new ValidationRegistry(address(0));
    }

    function test_request_byOwnerOrOperatorOnly() public {
        vm.expectEmit(address(validation));
        emit ValidationRegistry.ValidationRequest(validator, agentId, "covenant:action/x", H1);
        _request(owner, validator, H1);

        (address v, uint256 id, uint8 response, bytes32 responseHash, string memory tag, uint256 lastUpdate) =
            validation.getValidationStatus(H1);
        assertEq(v, validator);
        assertEq(id, agentId);
        assertEq(response, 0);
        assertEq(responseHash, bytes32(0));
        assertTrue(_eqStr(tag, ""), "no tag before a response");
        assertEq(lastUpdate, block.timestamp);

        // a stranger cannot ask on the agent's behalf
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(ValidationRegistry.NotAgentOwnerOrOperator.selector, agentId, mallory));
        validation.validationRequest(validator, agentId, "covenant:action/y", H2);

        // an operator approved for all the owner's agents can
        vm.prank(owner);
        identity.setApprovalForAll(operator, true);
        _request(operator, validator, H2);

        bytes32[] memory mine = validation.getAgentValidations(agentId);
        assertEq(mine.length, 2);
        assertEq(mine[0], H1);
        assertEq(mine[1], H2);
        assertEq(validation.getValidatorRequests(validator).length, 2);
        assertEq(validation.getValidatorRequests(validator2).length, 0);
    }

    function test_request_refusals() public {
        vm.prank(owner);
        vm.expectRevert(ValidationRegistry.ZeroAddress.selector);
        validation.validationRequest(address(0), agentId, "u", H1);

        vm.prank(owner);
        vm.expectRevert(ValidationRegistry.ZeroRequestHash.selector);
        validation.validationRequest(validator, agentId, "u", bytes32(0));

        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 42));
        validation.validationRequest(validator, 42, "u", H1);

        _request(owner, validator, H1);
        // the same request hash twice, even to another validator
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(ValidationRegistry.RequestExists.selector, H1));
        validation.validationRequest(validator2, agentId, "u", H1);

        vm.expectRevert(abi.encodeWithSelector(ValidationRegistry.UnknownRequest.selector, H2));
        validation.getValidationStatus(H2);
    }

    function test_response_onlyTheRequestedValidator() public {
        _request(owner, validator, H1);

        // a stranger, the agent's owner and another validator are all refused
        address[3] memory notIt = [mallory, owner, validator2];
        for (uint256 i; i < notIt.length; ++i) {
            vm.prank(notIt[i]);
            vm.expectRevert(abi.encodeWithSelector(ValidationRegistry.NotValidator.selector, H1, notIt[i], validator));
            validation.validationResponse(H1, 100, "", bytes32(0), "");
        }

        vm.prank(validator);
        vm.expectRevert(abi.encodeWithSelector(ValidationRegistry.ResponseOutOfRange.selector, 101));
        validation.validationResponse(H1, 101, "", bytes32(0), "");

        vm.prank(validator);
        vm.expectRevert(abi.encodeWithSelector(ValidationRegistry.UnknownRequest.selector, H2));
        validation.validationResponse(H2, 100, "", bytes32(0), "");

        vm.warp(block.timestamp + 100);
        vm.expectEmit(address(validation));
        emit ValidationRegistry.ValidationResponse(
            validator, agentId, H1, 100, "covenant:dispute/1", keccak256("evidence"), "bond-backed:soft"
        );
        _respond(validator, H1, 100, "bond-backed:soft");
        (,, uint8 response, bytes32 responseHash, string memory tag, uint256 lastUpdate) = validation.getValidationStatus(H1);
        assertEq(response, 100);
        assertEq(responseHash, keccak256("evidence"));
        assertTrue(_eqStr(tag, "bond-backed:soft"));
        assertEq(lastUpdate, block.timestamp);

        // progressive: a later final answer replaces it
        vm.warp(block.timestamp + 100);
        _respond(validator, H1, 0, "bond-backed:final");
        (,, response,, tag, lastUpdate) = validation.getValidationStatus(H1);
        assertEq(response, 0);
        assertTrue(_eqStr(tag, "bond-backed:final"));
        assertEq(lastUpdate, block.timestamp);
    }

    function test_summary_filters() public {
        bytes32 h3 = keccak256("3");
        bytes32 h4 = keccak256("4");
        _request(owner, validator, H1);
        _request(owner, validator, H2);
        _request(owner, validator2, h3);
        _request(owner, validator2, h4); // never answered: not counted

        (uint64 count, uint8 avg) = validation.getSummary(agentId, new address[](0), "");
        assertEq(count, 0, "no responses yet");
        assertEq(avg, 0);

        _respond(validator, H1, 100, "bond-backed:final");
        _respond(validator, H2, 0, "bond-backed:soft");
        _respond(validator2, h3, 51, "bond-backed:final");

        (count, avg) = validation.getSummary(agentId, new address[](0), "");
        assertEq(count, 3);
        assertEq(avg, 50, "(100 + 0 + 51) / 3 rounded down");

        (count, avg) = validation.getSummary(agentId, new address[](0), "bond-backed:final");
        assertEq(count, 2);
        assertEq(avg, 75, "(100 + 51) / 2");

        address[] memory only = new address[](1);
        only[0] = validator;
        (count, avg) = validation.getSummary(agentId, only, "");
        assertEq(count, 2);
        assertEq(avg, 50);

        (count, avg) = validation.getSummary(agentId, only, "bond-backed:soft");
        assertEq(count, 1);
        assertEq(avg, 0);

        (count,) = validation.getSummary(agentId + 1, new address[](0), "");
        assertEq(count, 0, "another agent has none");
    }

    /// Only 0..100 is ever stored.
    function testFuzz_response_range(uint8 response) public {
        _request(owner, validator, H1);
        vm.prank(validator);
        if (response > 100) vm.expectRevert(abi.encodeWithSelector(ValidationRegistry.ResponseOutOfRange.selector, response));
        validation.validationResponse(H1, response, "", bytes32(0), "");
        (,, uint8 stored,,,) = validation.getValidationStatus(H1);
        assertEq(stored, response > 100 ? 0 : response);
    }

    /// The summary is the floor of the mean of the answered requests' latest responses.
    function testFuzz_summary_isTheMean(uint8[12] memory responses, uint16 answeredMask) public {
        uint256 total;
        uint256 n;
        for (uint256 i; i < responses.length; ++i) {
            bytes32 h = keccak256(abi.encode("req", i));
            _request(owner, i % 2 == 0 ? validator : validator2, h);
            if (answeredMask & (1 << i) == 0) continue;
            uint8 r = uint8(bound(responses[i], 0, 100));
            vm.prank(i % 2 == 0 ? validator : validator2);
            validation.validationResponse(h, r, "", bytes32(0), "t");
            total += r;
            ++n;
        }
        (uint64 count, uint8 avg) = validation.getSummary(agentId, new address[](0), "t");
        assertEq(count, n);
        assertEq(avg, n == 0 ? 0 : total / n);
    }
}
